"""Everything that differs between SQLite and PostgreSQL, in one place.

The store's logic is written once against SQLAlchemy Core; it asks this module for the three things
that differ: insert-or-ignore/upsert spelling, row locking, and how a connection is set up (SQLite: WAL,
busy_timeout, foreign keys, ``BEGIN IMMEDIATE`` for write transactions, and a watch on the file itself,
see :class:`SqliteFile`).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, Select, String, Table, and_, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, Dialect
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.dml import Insert

from kern.exceptions import StorageError

AnySelect = Select[*tuple[Any, ...]]

BEGIN_OPTION = "kern_begin"
"""Connection execution option naming the SQLite BEGIN mode: ``"IMMEDIATE"`` for writes, else deferred."""


@functools.lru_cache(maxsize=64)
def upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...], same: tuple[str, ...] = ()
) -> Insert:
    """An INSERT ... ON CONFLICT (``keys``) DO UPDATE of the ``update`` columns, built once per table.

    With ``same``, the existing row is updated only where its ``same`` columns equal the inserted row's;
    otherwise nothing is written (and ``RETURNING`` gives no row). Execute it with the row's values as
    parameters: ``conn.execute(stmt, values)``. Building a statement costs more than running it on a hot
    path (a workflow writes two journal rows per step).
    """
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    where = and_(*(table.c[c] == insert.excluded[c] for c in same)) if same else None
    return insert.on_conflict_do_update(
        index_elements=list(keys), set_={c: insert.excluded[c] for c in update}, where=where
    )


@functools.lru_cache(maxsize=64)
def insert_ignore_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    """An INSERT ... ON CONFLICT (``keys``) DO NOTHING RETURNING the whole row, built once per table.

    Execute it with the row's values as parameters; no row comes back when one with the same keys existed.
    """
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=list(keys)).returning(*table.c)


def for_update(conn: Connection, stmt: AnySelect) -> AnySelect:
    """Lock the selected rows until the transaction ends.

    PostgreSQL takes a row lock; SQLite needs none because write transactions begin IMMEDIATE and so
    already hold the database's single write lock.
    """
    return locked(conn.dialect.name, stmt)


def locked(dialect: str, stmt: AnySelect) -> AnySelect:
    """:func:`for_update` for a statement built once per ``dialect`` name, before any connection."""
    return stmt.with_for_update() if dialect == "postgresql" else stmt


def lower(conn: Connection, column: ColumnElement[str | None]) -> ColumnElement[str | None]:
    """Lower-case text in SQL the way Python does, non-ASCII letters included.

    SQLite's built-in ``lower`` folds ASCII only, so SQLite connections get ``kern_lower`` (Python's
    ``str.lower``) registered by :func:`configure_sqlite`; PostgreSQL's ``lower`` is Unicode-aware.
    """
    if conn.dialect.name == "postgresql":
        return func.lower(column)
    return func.kern_lower(column, type_=String)


def _python_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _use_wal(cursor: DBAPICursor, busy_timeout_ms: int) -> None:
    """Switch the file to WAL (persistent, so only a brand-new file ever needs it).

    SQLite takes the exclusive lock for this switch without calling the busy handler, so concurrent
    first opens of a new file retry here, for at most the busy timeout.
    """
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if row is not None and row[0] in ("wal", "memory"):
        return
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class _Opened(NamedTuple):
    path: str
    """The absolute file name SQLite opened; empty for an in-memory or temporary database."""
    device: int
    inode: int


class SqliteFile:
    """The file behind a SQLite engine, watched so that its deletion or replacement is noticed.

    SQLite keeps using a file it has open after the file is unlinked (``rm agents.db``) or renamed over
    (a restore that moves another file into place): in WAL mode every commit then lands in a file that
    no new connection will ever open, the run reports success, and the next process finds an empty or a
    different database. So the engine's first connection records the identity (device, inode) of the
    file SQLite opened, and :meth:`check` compares the path's identity with it: on every checkout from
    the pool, i.e. before every transaction, and before every new connection, so that a deleted file is
    never silently recreated empty. That costs one ``stat`` per operation and no SQL statement (the
    driver gives no ``fstat`` of its file, hence the path). On a mismatch every pooled connection is
    closed, and every later operation fails the same way. In-memory databases are exempt.

    The identity is taken after the file exists, so concurrent first opens by several processes, which
    all open the one file SQLite creates, agree. A store keeps the file it first opened for its whole
    life, closing and reusing it included.
    """

    __slots__ = ("_opened",)

    def __init__(self) -> None:
        self._opened: _Opened | None = None

    def opened(self, cursor: DBAPICursor) -> None:
        """Record the file a new connection opened, unless an earlier connection already did."""
        if self._opened is not None:
            return
        cursor.execute("PRAGMA database_list")
        path = next((str(row[2] or "") for row in cursor.fetchall() if row[1] == "main"), "")
        if not path:
            self._opened = _Opened("", 0, 0)
            return
        stat = os.stat(path)
        self._opened = _Opened(path, stat.st_dev, stat.st_ino)

    def check(self) -> None:
        """Raise :class:`StorageError` if the file at the path is gone or is not the one first opened."""
        opened = self._opened
        if opened is None or not opened.path:
            return
        try:
            stat = os.stat(opened.path)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise StorageError(
                f"the SQLite file {opened.path} was deleted while the store was open; Kern stops using it "
                "rather than write where no other connection or process would ever see the data. Open a "
                "new store to start a new, empty database at that path."
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot check the SQLite file {opened.path}: {exc}") from exc
        if (stat.st_dev, stat.st_ino) != (opened.device, opened.inode):
            raise StorageError(
                f"the SQLite file {opened.path} was replaced by another file while the store was open; "
                "Kern stops using the file it had opened, which is no longer at that path. Open a new "
                "store to use the file now there. (To restore a database, stop the processes using it "
                "first, and remove the old file's -wal and -shm files with it: SQLite would apply the old "
                "-wal to the restored file.)"
            )


def configure_sqlite(engine: Engine, *, busy_timeout_ms: int, watch_file: bool = True) -> None:
    """Set pragmas on every new connection and let Kern emit BEGIN itself.

    pysqlite's own transaction handling is turned off (``isolation_level = None``) so that the BEGIN
    statement is ours: ``BEGIN IMMEDIATE`` for writes takes the write lock up front, which turns a
    read-then-write race into a wait on ``busy_timeout`` instead of a ``database is locked`` failure.
    With ``watch_file`` (every engine but the in-memory store's) the file is watched, see
    :class:`SqliteFile`.
    """
    file = SqliteFile() if watch_file else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:  # pyright: ignore[reportUnusedFunction]
        dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(cursor, busy_timeout_ms)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if file is not None:
            file.opened(cursor)
        cursor.close()
        dbapi_conn.create_function("kern_lower", 1, _python_lower, deterministic=True)  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    if file is not None:
        _watch(engine, file)


def _watch(engine: Engine, file: SqliteFile) -> None:
    """Check ``file`` before every new connection and on every checkout from the pool."""

    @event.listens_for(engine, "do_connect")
    def _before_connect(  # pyright: ignore[reportUnusedFunction]
        _dialect: Dialect, _record: ConnectionPoolEntry, _cargs: Any, _cparams: Any
    ) -> None:
        file.check()

    @event.listens_for(engine, "checkout")
    def _on_checkout(  # pyright: ignore[reportUnusedFunction]
        _dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        try:
            file.check()
        except StorageError:
            # Let go of the stale file at once: raising closes this connection, and the idle ones are
            # closed here. Each holds the old -shm file open and locked, and while one does, another
            # process that opens the path (a new database, a restored one) fails with "disk I/O error".
            # SQLite closes a connection to a moved file without checkpointing or deleting the -wal.
            engine.pool.dispose()
            raise
