"""``kern workflow run|validate|resume``: progress on stderr, the output on stdout, runs resumable by id."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kern import cli
from kern.db.sqlite import SqliteDb
from kern.session.schema import SessionType
from kern.workflow import Workflow
from tests.workflow import yaml_targets

REPO = Path(__file__).resolve().parents[2]
VALID = Path(__file__).with_name("fixtures") / "valid"
FUNCTIONS_ONLY = VALID / "functions_only.yaml"
FETCH_LAST = VALID / "fetch_last.yaml"
PYTHON_WORKFLOW = "tests.workflow.yaml_targets:workflow"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """Where the commands store their runs."""
    return tmp_path / "runs.db"


@pytest.fixture
def db_url(db_file: Path) -> str:
    """``--db`` for :func:`db_file`."""
    return f"sqlite:///{db_file}"


def run_id_in(stderr: str) -> str:
    """The run id the progress lines announced."""
    found = re.search(r"run (\S+) started", stderr)
    assert found is not None, stderr
    return found.group(1)


def failed_run(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Run fetch_last.yaml with fetch failing; the failed run's id (the failure then cleared)."""
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    assert cli.main(["workflow", "run", str(FETCH_LAST), "--input", "news", "--db", db_url]) == 1
    monkeypatch.delenv(yaml_targets.FAIL_VARIABLE)
    return run_id_in(capsys.readouterr().err)


# --- validate -------------------------------------------------------------------------------------------


def test_validate_says_ok_with_the_step_count(capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file prints ``ok: NAME (N steps)`` and exits 0."""
    assert cli.main(["workflow", "validate", str(FUNCTIONS_ONLY)]) == 0
    assert capsys.readouterr().out == "ok: functions-only (2 steps)\n"


def test_validate_accepts_a_python_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    """``module:attr`` naming a Workflow object validates too."""
    assert cli.main(["workflow", "validate", PYTHON_WORKFLOW]) == 0
    assert capsys.readouterr().out == "ok: from-python (2 steps)\n"


def test_validate_prints_the_located_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file prints ``kern: error: FILE:LINE:COL: PATH: ...`` on stderr and exits 1."""
    fixture = VALID.parent / "invalid" / "wrong_type.yaml"
    assert cli.main(["workflow", "validate", str(fixture)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"kern: error: {fixture}:9:23: steps[1].loop.max_iterations: ")


def test_validate_refuses_an_object_that_is_not_a_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    """``module:attr`` naming something else says what it is."""
    assert cli.main(["workflow", "validate", "tests.workflow.yaml_targets:helper_agent"]) == 1
    assert "is an Agent, not a Workflow" in capsys.readouterr().err


# --- run ------------------------------------------------------------------------------------------------


def test_run_prints_the_output_on_stdout(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The last step's content, and nothing else, goes to stdout."""
    assert cli.main(["workflow", "run", str(FUNCTIONS_ONLY), "--input", "hello", "--db", db_url]) == 0
    assert capsys.readouterr().out == "FETCHED HELLO\n"


def test_run_prints_progress_on_stderr(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """stderr announces the run id, each step starting and completing, and the run completing."""
    assert cli.main(["workflow", "run", str(FUNCTIONS_ONLY), "--input", "hello", "--db", db_url]) == 0
    lines = capsys.readouterr().err.splitlines()
    run_id = run_id_in(lines[0])
    assert lines[1:5] == [
        "kern: fetch [0] started",
        "kern: fetch [0] completed",
        "kern: shout [1] started",
        "kern: shout [1] completed",
    ]
    assert lines[5].startswith(f"kern: run {run_id} completed in ")


def test_progress_indents_nested_steps(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The branches of a parallel step are indented under it."""
    fixture = VALID / "parallel_functions.yaml"
    assert cli.main(["workflow", "run", str(fixture), "--input", "x", "--db", db_url]) == 0
    err = capsys.readouterr().err
    assert "kern:   left [0/parallel/0] completed" in err.splitlines()
    assert "kern: both [0] completed" in err.splitlines()


def test_run_stores_the_session_it_is_given(db_url: str, db_file: Path) -> None:
    """``--session-id`` and ``--user-id`` name the stored WorkflowSession, started from the file's state."""
    argv = ["--input", "hello", "--db", db_url, "--session-id", "s-1", "--user-id", "ava"]
    assert cli.main(["workflow", "run", str(FUNCTIONS_ONLY), *argv]) == 0
    with SqliteDb(db_file=db_file) as db:
        session = db.get_session("s-1", SessionType.WORKFLOW, user_id="ava")
    assert session is not None
    assert session.session_state["items"] == ["seed", "hello"]


def test_run_uses_kern_db_url_by_default(
    db_url: str, db_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``--db``, runs are stored where ``$KERN_DB_URL`` says."""
    monkeypatch.setenv("KERN_DB_URL", db_url)
    assert cli.main(["workflow", "run", str(FUNCTIONS_ONLY), "--input", "hello"]) == 0
    run_id = run_id_in(capsys.readouterr().err)
    with SqliteDb(db_file=db_file) as db:
        [session] = db.get_sessions()
        assert [run.run_id for run in db.get_runs(session.session_id)] == [run_id]


def test_run_a_python_workflow_records_its_import_path(
    db_url: str, db_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``module:attr`` runs that Workflow; a definition without ``source`` records the import path."""
    assert cli.main(["workflow", "run", PYTHON_WORKFLOW, "--input", "hi", "--db", db_url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "FETCHED HI\n"
    source = _recorded_source(db_file, run_id_in(captured.err))
    assert source == PYTHON_WORKFLOW


def test_run_refuses_an_unknown_database_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    """``--db`` that is neither SQLite nor PostgreSQL is a usage error."""
    assert cli.main(["workflow", "run", str(FUNCTIONS_ONLY), "--input", "x", "--db", "mysql://h/db"]) == 1
    assert capsys.readouterr().err == (
        "kern: error: --db takes sqlite:///path.db or postgresql://..., got 'mysql://h/db'\n"
    )


def test_failed_run_says_how_to_resume_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing step exits 1 and prints the resume command with the run id, definition, database, user."""
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    argv = ["--input", "news", "--db", db_url, "--user-id", "ava"]
    assert cli.main(["workflow", "run", str(FETCH_LAST), *argv]) == 1
    captured = capsys.readouterr()
    run_id = run_id_in(captured.err)
    assert captured.out == ""
    hint = f"kern: resume it with: kern workflow resume {run_id} {FETCH_LAST} --db {db_url} --user-id ava"
    assert hint in captured.err.splitlines()


def test_resume_hint_leaves_out_a_database_not_given(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the database from $KERN_DB_URL, the hint does not repeat it (it may hold a password)."""
    monkeypatch.setenv("KERN_DB_URL", db_url)
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    assert cli.main(["workflow", "run", str(FETCH_LAST), "--input", "news"]) == 1
    err = capsys.readouterr().err
    assert f"kern: resume it with: kern workflow resume {run_id_in(err)} {FETCH_LAST}" in err.splitlines()


def test_failed_run_shows_the_steps_own_traceback(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failing step's frames are shown, Kern's own are not."""
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    assert cli.main(["workflow", "run", str(FETCH_LAST), "--input", "news", "--db", db_url]) == 1
    err = capsys.readouterr().err
    assert 'yaml_targets.py", line' in err
    assert "RuntimeError: the source is down" in err
    assert "_engine.py" not in err


def test_a_step_calling_sys_exit_fails_the_command(
    db_url: str, db_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step's ``sys.exit(0)`` ends the run as failed: the command exits non-zero, the rows say error."""
    target = "tests.workflow.yaml_targets:exiting"
    assert cli.main(["workflow", "run", target, "--input", "news", "--db", db_url]) == 1
    err = capsys.readouterr().err
    assert "SystemExit" in err
    db = SqliteDb(db_file=db_file)
    (session,) = db.get_sessions(SessionType.WORKFLOW)
    assert [run.status.value for run in db.get_runs(session.session_id)] == ["error"]


# --- resume ---------------------------------------------------------------------------------------------


def test_resume_loads_the_definition_it_is_given(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``resume RUN_ID FILE`` loads FILE and completes the run from its failed step."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    assert cli.main(["workflow", "resume", run_id, str(FETCH_LAST), "--db", db_url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "fetched news\n"
    assert "kern: start [0] replayed" in captured.err.splitlines()
    assert "kern: fetch [1] completed" in captured.err.splitlines()
    assert "warning" not in captured.err  # the file is the one the run recorded


def test_resume_does_not_run_completed_steps_again(
    db_url: str, db_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the resume each step counts one call: the completed one did not run again."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    assert cli.main(["workflow", "resume", run_id, str(FETCH_LAST), "--db", db_url]) == 0
    with SqliteDb(db_file=db_file) as db:
        [session] = db.get_sessions()
    assert session.session_state["calls"] == {"shout": 1, "fetch": 1}


def test_resume_without_the_definition_is_a_usage_error(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``resume RUN_ID`` alone is refused by the argument parser: the definition is never looked up."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    with pytest.raises(SystemExit) as exited:
        cli.main(["workflow", "resume", run_id, "--db", db_url])
    assert exited.value.code == 2
    assert "FILE_OR_MODULE" in capsys.readouterr().err


def test_resume_never_imports_the_source_the_database_recorded(
    db_url: str,
    db_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A journal row naming a module that acts on import: resuming (with or without the definition)
    never imports it, and a differing recorded source is only a warning."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    marker = tmp_path / "imported.marker"
    hostile = "kern_test_hostile_source"
    (tmp_path / f"{hostile}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\nworkflow = None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _set_recorded_source(db_file, run_id, f"{hostile}:workflow")
    with pytest.raises(SystemExit):
        cli.main(["workflow", "resume", run_id, "--db", db_url])
    assert cli.main(["workflow", "resume", run_id, str(FETCH_LAST), "--db", db_url]) == 0
    assert not marker.exists()
    assert hostile not in sys.modules
    err = capsys.readouterr().err
    assert f"kern: warning: run {run_id} recorded its workflow as '{hostile}:workflow'" in err


def test_resume_with_another_workflow_is_refused_naming_both(
    db_url: str, db_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A definition whose id is not the run's exits 1 naming both workflows, and runs nothing."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    assert cli.main(["workflow", "resume", run_id, str(FUNCTIONS_ONLY), "--db", db_url]) == 1
    err = capsys.readouterr().err
    assert f"kern: error: run {run_id} is a run of workflow 'fetch-last' (recorded as defined in " in err
    assert f"not of 'functions-only' ({FUNCTIONS_ONLY}); nothing was resumed" in err
    assert "warning" not in err
    with SqliteDb(db_file=db_file) as db:
        [session] = db.get_sessions()
    assert session.session_state["calls"] == {"shout": 1}  # as the failed run left it: nothing ran


def test_resume_with_a_copy_of_the_file_warns_and_resumes(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same workflow from another file: a warning naming both sources, then the run completes."""
    run_id = failed_run(db_url, monkeypatch, capsys)
    copy = tmp_path / "moved.yaml"
    copy.write_text(FETCH_LAST.read_text())
    assert cli.main(["workflow", "resume", run_id, str(copy), "--db", db_url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "fetched news\n"
    assert f"recorded its workflow as {str(FETCH_LAST.resolve())!r}; resuming it with {str(copy)!r}" in (
        captured.err
    )


def test_resume_is_for_the_runs_owner_only(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run of user ava resumes with ``--user-id ava``; without it (anonymous) or as bob it is refused."""
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    argv = ["--input", "news", "--db", db_url, "--user-id", "ava"]
    assert cli.main(["workflow", "run", str(FETCH_LAST), *argv]) == 1
    run_id = run_id_in(capsys.readouterr().err)
    monkeypatch.delenv(yaml_targets.FAIL_VARIABLE)
    resume = ["workflow", "resume", run_id, str(FETCH_LAST), "--db", db_url]
    assert cli.main(resume) == 1
    assert "belongs to another user than None" in capsys.readouterr().err
    assert cli.main([*resume, "--user-id", "bob"]) == 1
    assert "belongs to another user than 'bob'" in capsys.readouterr().err
    assert cli.main([*resume, "--user-id", "ava"]) == 0
    assert capsys.readouterr().out == "fetched news\n"


def test_resume_of_an_unknown_run_is_an_error(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A run id the database does not hold is reported as such."""
    assert cli.main(["workflow", "resume", "nope", str(FETCH_LAST), "--db", db_url]) == 1
    assert capsys.readouterr().err == "kern: error: there is no run 'nope' in this database\n"


def test_resume_of_a_run_that_recorded_no_source_needs_only_the_definition(
    db_file: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run of a Workflow built without ``source`` resumes with the definition given, without a warning."""
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    with SqliteDb(db_file=db_file) as db:
        workflow = Workflow(name="from-python", steps=[yaml_targets.fetch, yaml_targets.shout], db=db)
        with pytest.raises(RuntimeError):
            workflow.run("x")
        [run] = db.get_runs(workflow.default_session_id)
    monkeypatch.delenv(yaml_targets.FAIL_VARIABLE)
    assert cli.main(["workflow", "resume", run.run_id, PYTHON_WORKFLOW, "--db", db_url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "FETCHED X\n"
    assert "warning" not in captured.err


def test_resume_help_names_the_definition_argument(capsys: pytest.CaptureFixture[str]) -> None:
    """``kern workflow resume --help`` shows RUN_ID FILE_OR_MODULE and --user-id."""
    with pytest.raises(SystemExit):
        cli.main(["workflow", "resume", "--help"])
    out = capsys.readouterr().out
    assert "RUN_ID FILE_OR_MODULE" in out
    assert "--user-id" in out


# --- as a process ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_python_m_kern_cli_runs_a_yaml_workflow(db_url: str) -> None:
    """``python -m kern.cli workflow run FILE`` exits 0 with the output on stdout, progress on stderr."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kern.cli",
            "workflow",
            "run",
            str(FUNCTIONS_ONLY),
            "--input",
            "hi",
            "--db",
            db_url,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "FETCHED HI\n"), done.stderr
    assert "kern: fetch [0] completed" in done.stderr.splitlines()


@pytest.mark.slow
def test_console_script_imports_from_the_current_directory(db_url: str) -> None:
    """The ``kern`` script (whose sys.path lacks the current directory) finds ``module:attr`` there."""
    script = Path(sys.executable).with_name("kern")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [str(script), "workflow", "run", PYTHON_WORKFLOW, "--input", "hi", "--db", db_url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "FETCHED HI\n"), done.stderr


def _recorded_source(db_file: Path, run_id: str) -> object:
    """The ``source`` the run's journal recorded."""
    from kern._private.sync import run_sync

    with SqliteDb(db_file=db_file) as db:
        found = run_sync(lambda: db.store.journal(run_id))
    assert found is not None
    [root] = [row for row in found[1] if row.step_path == "run"]
    return root.decision["source"]


def _set_recorded_source(db_file: Path, run_id: str, source: str) -> None:
    """Rewrite the ``source`` in the run's journal row, as whoever can write the database could."""
    from sqlalchemy import update

    with SqliteDb(db_file=db_file) as db:
        steps = db.store.tables.workflow_steps
        statement = (
            update(steps)
            .where(steps.c.run_id == run_id, steps.c.step_path == "run")
            .values(decision={"source": source})
        )
        with db._executor.engine.begin() as conn:  # pyright: ignore[reportPrivateUsage]
            assert conn.execute(statement).rowcount == 1
    assert _recorded_source(db_file, run_id) == source
