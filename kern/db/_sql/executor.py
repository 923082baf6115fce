"""Running the store's one implementation over a sync or an async engine.

Every store operation is a plain function ``op(conn: Connection, ...)`` written against SQLAlchemy's
sync API. An executor gives it a connection inside one short transaction and is the single boundary
where database errors become :class:`~kern.exceptions.StorageError`:

* :class:`SyncExecutor` calls it directly (the sync faces), or, when awaited, runs the whole
  transaction (pool checkout, BEGIN, every statement, COMMIT, check-in) in one worker-thread hop. It
  backs both SQLite faces: ``AsyncSqliteDb`` is this executor awaited, not an async driver, since
  aiosqlite would make one thread round-trip per DB-API call (cursor, execute, fetch, close, commit);
* :class:`AsyncExecutor` runs the very same function through ``AsyncConnection.run_sync`` (the
  PostgreSQL async face, whose drivers do real non-blocking I/O).

An awaited operation in a worker thread cannot be interrupted: a cancelled caller waits for the
transaction to end (anyio's ``run_sync`` without ``abandon_on_cancel``), then sees the cancellation, so
cancelling never leaves a transaction half done.

Before the first operation each executor checks the schema revision once (see ``migrate``). On SQLite
the engine itself checks, at each checkout from its pool, that the file is still the one it opened and
raises StorageError if not (``dialect.SqliteFile``); that is a check of Kern's, not a driver error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from kern.db._sql.dialect import BEGIN_OPTION
from kern.db._sql.migrate import HEAD_REVISION, check_schema, current_revision
from kern.db._sql.tables import Tables
from kern.exceptions import StorageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

P = ParamSpec("P")
T = TypeVar("T")
Op = Callable[Concatenate[Connection, P], T]


def in_transaction(conn: Connection, write: bool, fn: Callable[[Connection], T]) -> T:
    """Run ``fn`` in one transaction: SQLite writes begin IMMEDIATE, everything else deferred."""
    conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE" if write else "DEFERRED"})
    with conn.begin():
        return fn(conn)


def ensure_schema(conn: Connection, tables: Tables, upgrade_hint: str) -> None:
    """One read on the happy path; a locked check (and creation of a fresh store) otherwise."""
    if in_transaction(conn, False, partial(current_revision, tables=tables)) == HEAD_REVISION:
        return
    in_transaction(conn, True, partial(check_schema, tables=tables, upgrade_hint=upgrade_hint))


def _bind(op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Callable[[Connection], T]:
    """``op`` with everything but its connection filled in."""

    def bound(conn: Connection) -> T:
        return op(conn, *args, **kwargs)

    return bound


@contextmanager
def storage_errors(what: str, backend: str) -> Generator[None]:
    """Translate driver and SQLAlchemy failures into StorageError, keeping the cause."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(f"{what} failed on {backend}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"{what} failed on {backend}: {exc!r}") from exc


class SyncExecutor:
    """Runs operations on a sync engine.

    ``serialize=True`` (the in-memory store, whose one connection is shared by all threads) runs one
    operation at a time and, when awaited, inline on the event loop since there is no I/O to wait on.
    Otherwise an awaited operation is one ``anyio.to_thread.run_sync`` call for the whole transaction,
    schema check and writer lock included. On SQLite, write transactions of this process queue on a
    (thread) lock before ``BEGIN IMMEDIATE``: SQLite has one writer anyway, and its busy handler backs off
    in coarse sleeps where a lock hands over at once. The lock is a thread lock, not an event loop's, so
    one store serves sync callers, and any number of event loops, at once.
    """

    def __init__(self, engine: Engine, tables: Tables, *, upgrade_hint: str, serialize: bool = False) -> None:
        self.engine = engine
        self.tables = tables
        self._upgrade_hint = upgrade_hint
        self._serialize = serialize
        self._lock = threading.Lock()
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" and not serialize else None
        self._schema_checked = False

    def read(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``op`` in a read transaction."""
        return self._call(False, _bind(op, *args, **kwargs), op.__name__)

    def write(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``op`` in a write transaction."""
        return self._call(True, _bind(op, *args, **kwargs), op.__name__)

    async def aread(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``op`` in a read transaction."""
        return await self._acall(False, _bind(op, *args, **kwargs), op.__name__)

    async def awrite(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``op`` in a write transaction."""
        return await self._acall(True, _bind(op, *args, **kwargs), op.__name__)

    async def _acall(self, write: bool, fn: Callable[[Connection], T], name: str) -> T:
        if self._serialize:
            return self._call(write, fn, name)
        return await anyio.to_thread.run_sync(self._call, write, fn, name)

    def _call(self, write: bool, fn: Callable[[Connection], T], name: str) -> T:
        with (
            self._lock if self._serialize else nullcontext(),
            self._writer if write and self._writer is not None else nullcontext(),
            storage_errors(name, self.engine.dialect.name),
            self.engine.connect() as conn,
        ):
            if not self._schema_checked:
                ensure_schema(conn, self.tables, self._upgrade_hint)
                self._schema_checked = True
            return in_transaction(conn, write, fn)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    async def aclose(self) -> None:
        """Close every pooled connection, in a worker thread (closing a SQLite file may checkpoint it)."""
        if self._serialize:
            self.close()
            return
        await anyio.to_thread.run_sync(self.close)


class AsyncExecutor:
    """Runs the same operations on an async engine through ``AsyncConnection.run_sync``."""

    def __init__(self, engine: AsyncEngine, tables: Tables, *, upgrade_hint: str) -> None:
        self.engine = engine
        self.tables = tables
        self._upgrade_hint = upgrade_hint
        self._schema_checked = False

    async def aread(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``op`` in a read transaction."""
        return await self._acall(False, _bind(op, *args, **kwargs), op.__name__)

    async def awrite(self, op: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``op`` in a write transaction."""
        return await self._acall(True, _bind(op, *args, **kwargs), op.__name__)

    async def _acall(self, write: bool, fn: Callable[[Connection], T], name: str) -> T:
        with storage_errors(name, self.engine.dialect.name):
            async with self.engine.connect() as conn:
                if not self._schema_checked:
                    await conn.run_sync(ensure_schema, self.tables, self._upgrade_hint)
                    self._schema_checked = True
                return await conn.run_sync(in_transaction, write, fn)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


AnyExecutor = SyncExecutor | AsyncExecutor
"""Either executor; the runtime (and the async faces) only use the awaitable methods both share."""

__all__ = [
    "AnyExecutor",
    "AsyncExecutor",
    "SyncExecutor",
    "ensure_schema",
    "in_transaction",
    "storage_errors",
]
