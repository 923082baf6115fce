"""What ``kern workflow run|validate|resume`` do (kern.cli parses the arguments).

A workflow is named by its YAML file or by ``module:attr`` (a Workflow object in Python); the
current directory is importable while it loads, as it is for ``python -m``. A run reports its
progress on stderr (its run id first, so it can be resumed, then each step as it starts and ends) and
prints its output on stdout.

``resume RUN_ID FILE_OR_MODULE`` is told the definition, like ``run``: what a database row says is
data, never code to import (whoever can write the database would choose what runs). The ``source``
the run recorded is only compared with it: the run must be a run of that workflow (its component id;
else WorkflowError naming both), while a ``source`` spelled differently (a moved file, another path to
it) is reported as a warning, since the journal check still refuses a workflow whose steps changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import sys
import sysconfig
import traceback
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from kern._private.imports import import_object, is_import_path
from kern._private.sync import run_sync
from kern.db.base import SyncDb
from kern.exceptions import KernError, UsageError, WorkflowError
from kern.run.events import RunCompleted, RunError, RunEvent, RunStarted, StepCompleted, StepStarted
from kern.run.output import RunOutput
from kern.run.streams import EventStream
from kern.workflow._journal import RUN_PATH, decision_field
from kern.workflow._yaml_schema import shown
from kern.workflow.workflow import Workflow
from kern.workflow.yaml import load_workflow

DEFAULT_DB_URL = "sqlite:///kern.db"
"""Where ``kern workflow`` stores runs without ``--db`` or ``$KERN_DB_URL``."""


def default_db_url() -> str:
    """``$KERN_DB_URL``, else :data:`DEFAULT_DB_URL`."""
    return os.environ.get("KERN_DB_URL") or DEFAULT_DB_URL


def open_db(url: str) -> SyncDb:
    """The store at ``url``: ``sqlite:///path.db`` or ``postgresql://...``."""
    if url.startswith("sqlite"):
        from kern.db.sqlite import SqliteDb

        return SqliteDb(db_url=url)
    if url.startswith("postgres"):
        from kern.db.postgres import PostgresDb

        return PostgresDb(db_url=url)
    raise UsageError(f"--db takes sqlite:///path.db or postgresql://..., got {url!r}")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the ``kern workflow`` subcommand ``args`` names; its exit status."""
    with _cwd_importable():
        if args.workflow_command == "validate":
            return validate(args.file, out)
        db = open_db(args.db or default_db_url())
        progress = Progress(err, args.db)
        with db:
            workflow = load(args.file, db)
            progress.target, progress.user_id = args.file, args.user_id
            if args.workflow_command == "run":
                return progress.drive(
                    lambda: workflow.arun(
                        args.input, stream=True, session_id=args.session_id, user_id=args.user_id
                    ),
                    out,
                )
            owner = args.user_id if args.user_id is not None else workflow.user_id
            component_id, recorded = run_sync(lambda: recorded_source(db, args.run_id, owner))
            if component_id != workflow.component_id:
                raise WorkflowError(
                    f"run {args.run_id} is a run of workflow {component_id!r}"
                    + (f" (recorded as defined in {recorded!r})" if recorded else "")
                    + f", not of {workflow.component_id!r} ({args.file}); nothing was resumed"
                )
            if recorded is not None and not same_source(recorded, workflow.source or args.file):
                progress.line(
                    f"warning: run {args.run_id} recorded its workflow as {recorded!r}; "
                    f"resuming it with {args.file!r}"
                )
            return progress.drive(
                lambda: workflow.aresume(args.run_id, stream=True, user_id=args.user_id), out
            )


def load(target: str, db: SyncDb | None) -> Workflow:
    """The workflow ``target`` names (a YAML file, or ``module:attr``), storing its runs in ``db``."""
    if is_import_path(target) and not Path(target).exists():
        found = import_object(target)
        if not isinstance(found, Workflow):
            raise UsageError(f"{target!r} is {shown(found)}, not a Workflow")
        return dataclasses.replace(
            found, db=db if db is not None else found.db, source=found.source or target
        )
    return load_workflow(target, db=db)


def validate(target: str, out: TextIO) -> int:
    """Load ``target`` and say it is fine (an invalid one raises its error)."""
    workflow = load(target, None)
    count = len(workflow.nodes)
    print(f"ok: {workflow.name} ({count} step{'' if count == 1 else 's'})", file=out)
    return 0


async def recorded_source(db: SyncDb, run_id: str, user_id: str | None) -> tuple[str | None, str | None]:
    """The workflow id the run was recorded under, and where its journal says the workflow was
    defined (None: not recorded).

    Only ever compared with the definition given: never loaded. ``user_id`` is the exact owner, as
    for the resume itself (SessionOwnershipError for another user's run).
    """
    found = await db.store.journal_of(run_id, user_id)
    if found is None:
        raise WorkflowError(f"there is no run {run_id!r} in this database")
    run, steps = found
    root = {row.step_path: row for row in steps}.get(RUN_PATH)
    source = decision_field(root.decision if root is not None else None, "source")
    return run.component_id, source if isinstance(source, str) else None


def same_source(recorded: str, given: str) -> bool:
    """Whether two ``source`` strings name the same definition (the same file however it is spelled)."""
    if recorded == given:
        return True
    first, second = Path(recorded), Path(given)
    return first.exists() and second.exists() and first.resolve() == second.resolve()


class Progress:
    """Prints a run's events as progress lines, and its output when it completes."""

    def __init__(self, err: TextIO, db_url: str | None) -> None:
        self.err = err
        self.db_url = db_url  # as given with --db: repeated in the resume hint
        self.target: str | None = None  # the definition as given, and --user-id: repeated there too
        self.user_id: str | None = None
        self.run_id: str | None = None
        self.failed = False

    def drive(self, events: Callable[[], EventStream], out: TextIO) -> int:
        """Consume the stream ``events()`` makes; 0 when the run completed, else 1 (or 130 on Ctrl-C)."""

        async def consume() -> RunOutput | None:
            stream: EventStream = events()
            output: RunOutput | None = None
            async with stream:
                async for event in stream:
                    self.show(event)
                    if isinstance(event, RunCompleted):
                        output = event.output
            return output

        try:
            with _warnings_to(self.err):
                output = run_sync(consume)
        except KeyboardInterrupt:
            self.line("interrupted")
            self.hint()
            return 130
        except KernError:
            if not self.failed:  # not a run's failure (a busy session, a bad resume): kern.cli prints it
                raise
            return 1
        except Exception:
            if not self.failed:
                raise
            _user_traceback(self.err)  # a step's own error: where it was raised is for whoever wrote it
            return 1
        except SystemExit as exit_:  # a step's sys.exit ended the run: it failed, whatever the code
            if not self.failed:
                raise
            _user_traceback(self.err)
            return exit_.code if isinstance(exit_.code, int) and exit_.code != 0 else 1
        if output is not None:
            text = _text(output.content)
            if text:
                print(text, file=out)
        return 0

    def show(self, event: RunEvent) -> None:
        """One progress line for the events a person follows."""
        match event:
            case RunStarted() if self.run_id is None:
                self.run_id = event.run_id
                self.line(f"run {event.run_id} started (workflow {event.source}, session {event.session_id})")
            case StepStarted():
                self.line(f"{_indent(event.step_path)}{event.step_name} [{event.step_path}] started")
            case StepCompleted():
                how = "replayed" if event.replayed else event.status
                why = f": {event.error}" if event.error else ""
                self.line(f"{_indent(event.step_path)}{event.step_name} [{event.step_path}] {how}{why}")
            case RunCompleted() if event.run_id == self.run_id:
                self.line(f"run {event.run_id} completed in {event.output.metrics.duration:.1f}s")
            case RunError() if event.run_id == self.run_id:
                self.failed = True
                self.line(f"run {event.run_id} ended {event.status}: {event.error}")
                self.hint()
            case _:
                pass

    def hint(self) -> None:
        if self.run_id is not None:
            words = ["kern workflow resume", self.run_id, shlex.quote(self.target or "FILE_OR_MODULE")]
            if self.db_url:
                words.append(f"--db {self.db_url}")
            if self.user_id is not None:
                words.append(f"--user-id {shlex.quote(self.user_id)}")
            self.line(f"resume it with: {' '.join(words)}")

    def line(self, text: str) -> None:
        print(f"kern: {text}", file=self.err, flush=True)


def _indent(path: str) -> str:
    """Two spaces per level of nesting of the step at ``path`` (``"3/parallel/1"`` is one level in)."""
    return "  " * sum(not part.isdigit() for part in path.split("/"))


def _text(content: Any) -> str:
    """A run's output as printed: text as is, a model or other data as JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, BaseModel):
        return content.model_dump_json(indent=2)
    return json.dumps(content, indent=2, ensure_ascii=False, default=str)


def _user_traceback(err: TextIO) -> None:
    """The exception being handled, with the frames of the user's code only (not Kern's, not libraries')."""
    exc = sys.exc_info()[1]
    assert exc is not None
    paths = sysconfig.get_paths()
    hidden = (str(Path(__file__).resolve().parents[1]), paths["purelib"], paths["stdlib"])
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(hidden)]
    print("Traceback (the step's own frames):", file=err)
    print("".join(traceback.format_list(frames)), end="", file=err)
    print("".join(traceback.format_exception_only(exc)), end="", file=err)


@contextmanager
def _warnings_to(err: TextIO) -> Generator[None]:
    """Kern's warnings (a step that failed and went on, a retry) as lines on ``err`` during a run."""
    handler = _LineHandler(err)
    logger = logging.getLogger("kern")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _LineHandler(logging.Handler):
    """``kern: warning: workflow.step_failed step='fetch' error='...'``: the event and its fields."""

    _HIDDEN = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "run_id", "session_id"}

    def __init__(self, err: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.err = err

    def emit(self, record: logging.LogRecord) -> None:
        fields = " ".join(f"{k}={v!r}" for k, v in record.__dict__.items() if k not in self._HIDDEN)
        print(f"kern: {record.levelname.lower()}: {record.getMessage()} {fields}".rstrip(), file=self.err)


@contextmanager
def _cwd_importable() -> Generator[None]:
    """The current directory on ``sys.path`` for the command (a console script lacks it, ``-m`` has it)."""
    cwd = os.getcwd()
    if cwd in sys.path or "" in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        sys.path.remove(cwd)
