"""A database failure raises StorageError chaining the driver's error; a failed read is never "not found"."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.db.postgres import AsyncPostgresDb, PostgresDb
from kern.db.sqlite import AsyncSqliteDb, SqliteDb
from kern.exceptions import StorageError
from kern.session import SessionType

pytestmark = pytest.mark.anyio

UNREACHABLE_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
"""Nothing listens on port 1: every connection attempt is refused."""

READS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "get_session": ("get_session", ("s1",)),
    "get_session-filtered": ("get_session", ("s1", SessionType.AGENT, "alice")),
    "get_sessions": ("get_sessions", ()),
}
WRITES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "create_session": ("create_session", ("s2", SessionType.AGENT)),
    "rename_session": ("rename_session", ("s1", SessionType.AGENT, "New")),
    "delete_session": ("delete_session", ("s1",)),
    "delete_sessions": ("delete_sessions", (["s1"],)),
}


async def close(db: BaseDb) -> None:
    """Close either kind of face."""
    if isinstance(db, AsyncDb):
        await db.close()
    elif isinstance(db, SyncDb):
        db.close()


async def call(db: BaseDb, method: str, args: tuple[Any, ...]) -> Any:
    """Call a face's method as its users do: awaited on an async face, directly on a sync one."""
    result = getattr(db, method)(*args)
    return await result if isinstance(db, AsyncDb) else result


def drop_every_table(db_file: Path) -> None:
    """Drop every table of a SQLite file through a connection of its own, as another program would."""
    with closing(sqlite3.connect(db_file)) as conn:
        names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        conn.executescript("".join(f'DROP TABLE "{name}";' for name in names))


@pytest.fixture(params=["sqlite", "sqlite-async"])
async def dropped_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseDb]:
    """A SQLite store that was used once, then had its tables dropped behind its back."""
    db_file = tmp_path / "kern.db"
    db: BaseDb = SqliteDb(db_file=db_file) if request.param == "sqlite" else AsyncSqliteDb(db_file=db_file)
    await call(db, "create_session", ("s1", SessionType.AGENT))
    drop_every_table(db_file)
    yield db
    await close(db)


@pytest.fixture(params=["postgres", "postgres-async"])
async def unreachable_pg(request: pytest.FixtureRequest) -> AsyncIterator[BaseDb]:
    """A PostgreSQL store pointed at a port where no server listens."""
    face = PostgresDb if request.param == "postgres" else AsyncPostgresDb
    db = face(db_url=UNREACHABLE_PG_URL)
    yield db
    await close(db)


def assert_chains_sqlalchemy_error(error: StorageError) -> None:
    """The StorageError carries the SQLAlchemy error it translates as its cause."""
    assert isinstance(error.__cause__, SQLAlchemyError), repr(error.__cause__)


@pytest.mark.parametrize("operation", READS.values(), ids=READS.keys())
async def test_read_of_dropped_sqlite_tables_raises_storage_error(
    dropped_sqlite: BaseDb, operation: tuple[str, tuple[Any, ...]]
) -> None:
    """Reading a SQLite store whose tables vanished raises StorageError chaining the SQLAlchemy error."""
    with pytest.raises(StorageError) as raised:
        await call(dropped_sqlite, *operation)

    assert_chains_sqlalchemy_error(raised.value)


@pytest.mark.parametrize("operation", WRITES.values(), ids=WRITES.keys())
async def test_write_to_dropped_sqlite_tables_raises_storage_error(
    dropped_sqlite: BaseDb, operation: tuple[str, tuple[Any, ...]]
) -> None:
    """Writing to a SQLite store whose tables vanished raises StorageError, never None, False or 0."""
    with pytest.raises(StorageError) as raised:
        await call(dropped_sqlite, *operation)

    assert_chains_sqlalchemy_error(raised.value)


@pytest.mark.parametrize("operation", READS.values(), ids=READS.keys())
async def test_read_of_unreachable_postgres_raises_storage_error(
    unreachable_pg: BaseDb, operation: tuple[str, tuple[Any, ...]]
) -> None:
    """Reading from an unreachable PostgreSQL server raises StorageError chaining the SQLAlchemy error."""
    with pytest.raises(StorageError) as raised:
        await call(unreachable_pg, *operation)

    assert_chains_sqlalchemy_error(raised.value)


async def test_write_to_unreachable_postgres_raises_storage_error(unreachable_pg: BaseDb) -> None:
    """Creating a session on a PostgreSQL server that cannot be reached raises StorageError."""
    with pytest.raises(StorageError) as raised:
        await call(unreachable_pg, "create_session", ("s1", SessionType.AGENT))

    assert_chains_sqlalchemy_error(raised.value)


async def test_corrupt_stored_state_raises_storage_error(api: Any, db: BaseDb, sql: Any) -> None:
    """A stored state with an unknown codec tag raises StorageError on get_session and get_sessions."""
    await api.create_session("s1", SessionType.AGENT)
    sessions = db.store.tables.sessions
    await sql(update(sessions).values(session_state={"__kern__": "from-the-future", "v": 1}))

    with pytest.raises(StorageError):
        await api.get_session("s1")
    with pytest.raises(StorageError):
        await api.get_sessions()
