"""The store under test, over every backend and face: one conformance suite runs unchanged on all.

``db`` is parametrized over InMemoryDb, SqliteDb, AsyncSqliteDb, PostgresDb and AsyncPostgresDb.
Tests call ``await api.method(...)`` through :class:`Api`, which awaits the async faces and calls the
sync faces directly, so each sync method is exercised as a user calls it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.db.in_memory import InMemoryDb
from kern.db.postgres import AsyncPostgresDb, PostgresDb
from kern.db.sqlite import AsyncSqliteDb, SqliteDb

BACKENDS = ["memory", "sqlite", "sqlite-async", "postgres", "postgres-async"]


class Api:
    """Awaitable access to a face's public methods, whichever face it is."""

    def __init__(self, db: BaseDb) -> None:
        self.db = db

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.db, name)
        if inspect.iscoroutinefunction(method):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def make_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> BaseDb:
    """Build the face named by ``backend`` on a fresh, empty store."""
    if backend == "memory":
        return InMemoryDb()
    if backend == "sqlite":
        return SqliteDb(db_file=tmp_path / "kern.db")
    if backend == "sqlite-async":
        return AsyncSqliteDb(db_file=tmp_path / "kern.db")
    pg_url: str = request.getfixturevalue("pg_url")
    schema: str = request.getfixturevalue("pg_schema")
    if backend == "postgres":
        return PostgresDb(db_url=pg_url, db_schema=schema)
    return AsyncPostgresDb(db_url=pg_url, db_schema=schema)


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseDb]:
    """A fresh store of each backend and face."""
    store = make_db(request.param, tmp_path, request)
    yield store
    if isinstance(store, AsyncDb):
        await store.close()
    elif isinstance(store, SyncDb):
        store.close()


@pytest.fixture
def api(db: BaseDb) -> Api:
    """The store's public methods, awaitable."""
    return Api(db)


SqlRunner = Callable[[Any], Awaitable[list[Any]]]
"""Runs one SQLAlchemy statement in its own transaction and returns its rows (none for DML)."""


@pytest.fixture
def sql(db: BaseDb) -> SqlRunner:
    """Run statements on the store's own engine, to arrange or inspect what the API cannot.

    It reaches the executor's engine because the in-memory store's database exists only behind it.
    """
    from sqlalchemy.ext.asyncio import AsyncEngine

    engine = db.store._executor.engine

    async def run(statement: Any) -> list[Any]:
        if isinstance(engine, AsyncEngine):
            async with engine.begin() as conn:
                result = await conn.execute(statement)
                return list(result.all()) if result.returns_rows else []
        with engine.begin() as conn:
            result = conn.execute(statement)
            return list(result.all()) if result.returns_rows else []

    return run


AddRun = Callable[..., Awaitable[None]]
"""``await add_run(session_id, run_id, *contents, session_type=..., user_id=...)``."""


@pytest.fixture
def add_run(db: BaseDb) -> AddRun:
    """Store one completed run with a message per content (alternating user/assistant), as a run does."""
    from kern.db.records import RunWrite
    from kern.models.message import Message
    from kern.session.schema import RunRecord, SessionType
    from kern.session.status import RunStatus

    async def add(
        session_id: str,
        run_id: str,
        *contents: str,
        session_type: SessionType = SessionType.AGENT,
        user_id: str | None = None,
    ) -> None:
        claim = await db.store.claim(
            session_id, session_type, run_id=run_id, user_id=user_id, on_busy="reject"
        )
        run = RunRecord(run_id=run_id, session_id=session_id, status=RunStatus.completed, user_id=user_id)
        roles = ("user", "assistant")
        messages = [Message(role=roles[i % 2], content=content) for i, content in enumerate(contents)]
        await db.store.commit(claim, writes=[RunWrite(run=run, messages=messages)])
        assert await db.store.release(claim)

    return add
