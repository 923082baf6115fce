"""workflows/: the YAML research workflow and the Python taskboard review, run against the loopback server.

Both run as a user runs them: loaded from the repository's ``workflows/`` (the YAML file by path, the
Python one by import path), with OpenAI's variables pointing at the loopback server and ``KERN_MODEL``
unset (the ``example_dir`` fixture), their runs stored in a SQLite file. The model's side is scripted;
the tests check what the steps did: what the agent was sent, the state stored, the runs, the output.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kern import cli
from kern.db.sqlite import SqliteDb
from kern.run import RunStatus
from kern.workflow import StepInput, StepOutput, Workflow
from kern.workflow.yaml import load_workflow
from tests.acceptance.conftest import REPO, pg_sessions
from tests.support.openai_server import OpenAIServer
from workflows import steps, taskboard_review

RESEARCH = REPO / "workflows" / "research.yaml"
QUESTION = "How do concurrent runs on one session avoid losing a write?"
ANSWER = "Each run claims its session before it writes, so no write is lost [1][4]."
TASKS = "Fix the login bug (work)\nBook the dentist (personal)"
STARTED = "Started #1: a broken login blocks every user."


@pytest.fixture
def db(example_dir: Path) -> Iterator[SqliteDb]:
    """The SQLite file the workflows store their runs in."""
    with SqliteDb(db_file=example_dir / "workflows.db") as db:
        yield db


@pytest.fixture
def research(db: SqliteDb) -> Workflow:
    """workflows/research.yaml, loaded."""
    return load_workflow(RESEARCH, db=db)


@pytest.fixture
def review(db: SqliteDb) -> Workflow:
    """workflows/taskboard_review.py's workflow, storing in the test's database."""
    return dataclasses.replace(taskboard_review.workflow, db=db)


def user_message(request: dict[str, Any]) -> str:
    """The last user message of a chat-completions request."""
    return [m["content"] for m in request["messages"] if m["role"] == "user"][-1]


def step_input(question: str, **outputs: Any) -> StepInput:
    """A StepInput for ``question`` with the named steps' contents."""
    return StepInput(
        input=question,
        previous_step_outputs={name: StepOutput(content, name) for name, content in outputs.items()},
    )


def script_review(server: OpenAIServer) -> None:
    """The reviewer starts task #1, then says why."""
    server.reply(tool_calls=[("update_task_status", {"task_id": 1, "status": "in_progress"})])
    server.reply(STARTED)


# --- research.yaml ------------------------------------------------------------------------------------


def test_research_answers_with_the_writers_reply(research: Workflow, openai_server: OpenAIServer) -> None:
    """The workflow's output is the writer agent's answer."""
    openai_server.reply(ANSWER)
    assert research.run(QUESTION).content == ANSWER


def test_research_gives_the_writer_the_numbered_passages(
    research: Workflow, openai_server: OpenAIServer
) -> None:
    """The writer is sent the question and the passages both searches found, numbered, README first."""
    openai_server.reply(ANSWER)
    research.run(QUESTION)
    [request] = openai_server.requests
    found = {
        "readme": steps.search_readme(step_input(QUESTION)),
        "docs": steps.search_docs(step_input(QUESTION)),
    }
    assert found["readme"]
    assert found["docs"]
    passages = steps.collate_passages(step_input(QUESTION, gather=found), {})
    assert passages.startswith("[1] (README.md) ")
    assert user_message(request) == f"{QUESTION}\n\nOutput of the previous step (collate):\n{passages}"


def test_research_writer_uses_the_files_agent(research: Workflow, openai_server: OpenAIServer) -> None:
    """The writer's request goes to the model the file names, with the file's instructions."""
    openai_server.reply(ANSWER)
    research.run(QUESTION)
    [request] = openai_server.requests
    assert request["model"] == "gpt-4o-mini"
    assert "Answer the question using only the numbered passages" in request["messages"][0]["content"]


def test_research_keeps_the_question_in_the_session(research: Workflow, openai_server: OpenAIServer) -> None:
    """The stored session state starts from the file's and records the question and the sources used."""
    openai_server.reply(ANSWER)
    research.run(QUESTION)
    assert research.get_session_state() == {
        "questions": [QUESTION],
        "sources": ["README.md", "docs/architecture.md"],
    }


def test_research_without_passages_does_not_call_the_model(
    research: Workflow, openai_server: OpenAIServer
) -> None:
    """When nothing matches, the condition skips the writer and the output says nothing was found."""
    output = research.run("zebra quantum flamingo")
    assert openai_server.requests == []
    assert output.content == f"{steps.NOTHING_FOUND}: zebra quantum flamingo"


def test_research_runs_and_journals_every_step(
    research: Workflow, db: SqliteDb, openai_server: OpenAIServer
) -> None:
    """The run completes with the writer's run as its child; each step is journaled as completed."""
    openai_server.reply(ANSWER)
    output = research.run(QUESTION)
    runs = db.get_runs(research.default_session_id)
    assert [(r.component_id, r.status) for r in runs if r.parent_run_id is None] == [
        ("research", RunStatus.completed)
    ]
    assert [(r.component_id, r.parent_run_id) for r in runs if r.parent_run_id] == [("writer", output.run_id)]
    assert set(output.step_outputs) == {"gather", "readme", "docs", "collate", "answer", "write"}


@pytest.mark.slow
def test_research_runs_from_the_command_line(example_dir: Path, openai_server: OpenAIServer) -> None:
    """``python -m kern.cli workflow run workflows/research.yaml`` prints the answer on stdout."""
    openai_server.reply(ANSWER)
    db_url = f"sqlite:///{example_dir / 'cli.db'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kern.cli",
            "workflow",
            "run",
            "workflows/research.yaml",
            "--input",
            QUESTION,
            "--db",
            db_url,
        ],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, ANSWER + "\n"), done.stderr
    assert "kern:   write [2/condition/0] completed" in done.stderr.splitlines()


@pytest.mark.postgres
def test_research_stores_its_run_in_postgresql(
    example_dir: Path, openai_server: OpenAIServer, pg_example_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kern workflow run ... --db postgresql://...`` stores the session in that database."""
    openai_server.reply(ANSWER)
    assert cli.main(["workflow", "run", str(RESEARCH), "--input", QUESTION, "--db", pg_example_url]) == 0
    assert capsys.readouterr().out == ANSWER + "\n"
    [session] = pg_sessions(pg_example_url).values()
    assert (session.component_id, session.session_state["questions"]) == ("research", [QUESTION])


# --- taskboard_review.py ------------------------------------------------------------------------------


def test_review_puts_the_input_on_the_board_and_starts_one(
    review: Workflow, openai_server: OpenAIServer
) -> None:
    """Each input line is a task in its category; the reviewer started task #1."""
    script_review(openai_server)
    review.run(TASKS)
    assert review.get_session_state() == {
        "tasks": [
            {"id": 1, "title": "Fix the login bug", "status": "in_progress"},
            {"id": 2, "title": "Book the dentist", "status": "open"},
        ],
        "categories": ["general", "work", "personal"],
    }


def test_review_output_is_the_board_summary(review: Workflow, openai_server: OpenAIServer) -> None:
    """The last step's summary, written after the reviewer's change, is the output."""
    script_review(openai_server)
    assert review.run(TASKS).content == (
        "2 tasks: 1 open, 1 in_progress, 0 done. "
        "Not done yet: #1 Fix the login bug (in_progress); #2 Book the dentist (open)."
    )


def test_reviewer_sees_the_board_and_what_intake_added(review: Workflow, openai_server: OpenAIServer) -> None:
    """The reviewer gets its two tools, the board in its system message, and intake's report as the task."""
    script_review(openai_server)
    review.run(TASKS)
    first = openai_server.requests[0]
    assert {tool["function"]["name"] for tool in first["tools"]} == {"list_tasks", "update_task_status"}
    assert '"title": "Book the dentist"' in first["messages"][0]["content"]
    assert user_message(first).endswith(
        "Output of the previous step (intake):\n"
        "Added task #1: Fix the login bug (work)\nAdded task #2: Book the dentist (personal)"
    )


def test_review_skips_the_reviewer_on_an_empty_board(review: Workflow, openai_server: OpenAIServer) -> None:
    """With nothing open the condition skips the agent: no model call; the summary says the board is empty."""
    output = review.run("\n")
    assert openai_server.requests == []
    assert output.content == "The board is empty."


def test_review_runs_from_the_command_line(
    example_dir: Path, openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kern workflow run workflows.taskboard_review:workflow`` prints the summary on stdout."""
    script_review(openai_server)
    db_url = f"sqlite:///{example_dir / 'cli.db'}"
    argv = ["workflow", "run", "workflows.taskboard_review:workflow", "--input", TASKS, "--db", db_url]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("2 tasks: 1 open, 1 in_progress, 0 done.")


def test_readme_shows_research_yaml_as_it_is() -> None:
    """The README's YAML example is workflows/research.yaml from its ``name:`` line on."""
    text = RESEARCH.read_text()
    assert f"```yaml\n{text[text.index('name: research') :]}```" in (REPO / "README.md").read_text()
