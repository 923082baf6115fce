"""The acceptance tier: the seeds' examples run as users run them, against the loopback OpenAI server.

An example runs in-process (``runpy``, as ``python examples/NAME.py`` would run it) with OpenAI's
variables pointing at the loopback server, ``KERN_MODEL`` unset, a fresh temporary working directory
(the seeds write ``tmp/agents.db``) and, for the PostgreSQL examples, ``KERN_PG_URL`` naming a fresh
database created for the test and dropped after it (the seeds' tables are always ``kern_*`` in the
default schema, so a database per test is what keeps them apart).
"""

from __future__ import annotations

import asyncio
import runpy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kern.agent import Agent
from kern.db.base import AsyncDb, SyncDb
from kern.db.postgres import PostgresDb
from kern.db.sqlite import SqliteDb
from kern.session.schema import Session
from tests.support.openai_server import OpenAIServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@dataclass(frozen=True)
class ExampleRun:
    """What running an example left: its module globals and what it printed."""

    namespace: dict[str, Any]
    output: str


@pytest.fixture
def example_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: OpenAIServer) -> Path:
    """The working directory of an example run, with OpenAI's variables set to the loopback server."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
    monkeypatch.delenv("KERN_MODEL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich: wide panels, so printed lines are not wrapped
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_example(example_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[[str], ExampleRun]:
    """Run ``examples/NAME`` as ``__main__`` and return what it left; its databases are closed after."""

    def run(name: str) -> ExampleRun:
        capsys.readouterr()
        namespace = runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        _close_databases(namespace)
        return ExampleRun(namespace, capsys.readouterr().out)

    return run


@pytest.fixture
def pg_example_url(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, named by ``KERN_PG_URL``; dropped afterwards."""
    name = f"kern_acc_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        monkeypatch.setenv("KERN_PG_URL", url)
        yield url
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def sqlite_sessions(db_file: Path) -> dict[str, Session]:
    """Every session stored in a SQLite file, by id, as kern reads them back."""
    with SqliteDb(db_file=db_file) as db:
        return {s.session_id: _full(db, s) for s in db.get_sessions()}


def pg_sessions(db_url: str) -> dict[str, Session]:
    """Every session stored in a PostgreSQL database, by id, as kern reads them back."""
    with PostgresDb(db_url=db_url) as db:
        return {s.session_id: _full(db, s) for s in db.get_sessions()}


def _full(db: SyncDb, listed: Session) -> Session:
    session = db.get_session(listed.session_id, listed.session_type, user_id=listed.user_id)
    assert session is not None
    return session


def _close_databases(namespace: dict[str, Any]) -> None:
    """Close the stores an example opened (the seeds never do; a process exit would)."""
    seen: set[int] = set()
    for value in namespace.values():
        db = value.db if isinstance(value, Agent) else value
        if id(db) in seen:
            continue
        seen.add(id(db))
        if isinstance(db, SyncDb):
            db.close()
        elif isinstance(db, AsyncDb):
            asyncio.run(db.close())
