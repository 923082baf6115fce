"""Shared fixtures: the anyio backend, the PostgreSQL server the storage tests run against, and the
loopback OpenAI-compatible server the model tests talk to.

PostgreSQL comes from ``KERN_TEST_PG_URL`` (default: the local trust-auth server, database ``test``).
When it is unreachable, tests that need it are skipped locally with the reason, and fail in CI
(``CI`` set), where the Postgres tier is required.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kern.db.base import SyncDb
from kern.db.postgres import PostgresDb
from kern.db.sqlite import SqliteDb
from tests.support.openai_server import OpenAIServer

PG_URL = os.environ.get("KERN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def anyio_backend() -> str:
    """Kern runs on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL, after checking the server answers."""
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {PG_URL} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL} (set KERN_TEST_PG_URL): {exc.orig}")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    schema = f"kern_t_{uuid.uuid4().hex[:12]}"
    yield schema
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A started loopback OpenAI server; the test fails if a scripted reply is left or an error recorded.

    A test that leaves a reply or an error on purpose calls ``openai_server.clear()``.
    """
    with OpenAIServer() as server:
        yield server
        problems = server.problems()
    if problems:
        pytest.fail("loopback OpenAI server: " + "; ".join(problems), pytrace=False)


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(URL, schema) of a fresh store, already at head, that several OS processes open."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'shared.db'}", None
    else:
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    with open_store(url, schema) as db:
        db.get_sessions()  # creates the schema, so that the processes race only on the session
    return url, schema


def open_store(url: str, schema: str | None) -> SyncDb:
    """The sync face of the store at ``url`` (``schema``: PostgreSQL's, None for SQLite)."""
    return SqliteDb(db_url=url) if schema is None else PostgresDb(url, db_schema=schema)
