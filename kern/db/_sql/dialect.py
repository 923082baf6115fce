"""Everything that differs between SQLite and PostgreSQL, in one place.

The store's logic is written once against SQLAlchemy Core; it asks this module for the three things
that differ: insert-or-ignore/upsert spelling, row locking, and how a connection is set up (SQLite: WAL,
busy_timeout, foreign keys, and ``BEGIN IMMEDIATE`` for write transactions).
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, String, Table, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert

AnySelect = Select[*tuple[Any, ...]]

BEGIN_OPTION = "kern_begin"
"""Connection execution option naming the SQLite BEGIN mode: ``"IMMEDIATE"`` for writes, else deferred."""


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any], keys: Sequence[str]) -> Insert:
    """INSERT that does nothing when a row with the same ``keys`` exists."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(dict(values)).on_conflict_do_nothing(index_elements=list(keys))
    return sqlite.insert(table).values(dict(values)).on_conflict_do_nothing(index_elements=list(keys))


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> Insert:
    """INSERT, or UPDATE the ``update`` columns of the row with the same ``keys`` when ``where`` holds.

    When the existing row fails ``where`` nothing is written; with ``RETURNING`` no row comes back.
    The updated columns are set from ``values`` as parameters, not from the ``excluded`` row: the same
    values, without building an alias of the table (and a proxy of each column) on every call.
    """
    new = {c: values[c] for c in update}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(dict(values))
        return pg.on_conflict_do_update(index_elements=list(keys), set_=new, where=where)
    lite = sqlite.insert(table).values(dict(values))
    return lite.on_conflict_do_update(index_elements=list(keys), set_=new, where=where)


@functools.lru_cache(maxsize=64)
def upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    """An INSERT ... ON CONFLICT (``keys``) DO UPDATE of the ``update`` columns, built once per table.

    Execute it with the row's values as parameters: ``conn.execute(stmt, values)``. Building a
    statement costs more than running it on a hot path (a workflow writes two journal rows per step).
    """
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(keys), set_={c: insert.excluded[c] for c in update}
    )


def for_update(conn: Connection, stmt: AnySelect) -> AnySelect:
    """Lock the selected rows until the transaction ends.

    PostgreSQL takes a row lock; SQLite needs none because write transactions begin IMMEDIATE and so
    already hold the database's single write lock.
    """
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


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


def configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Set pragmas on every new connection and let Kern emit BEGIN itself.

    pysqlite's own transaction handling is turned off (``isolation_level = None``) so that the BEGIN
    statement is ours: ``BEGIN IMMEDIATE`` for writes takes the write lock up front, which turns a
    read-then-write race into a wait on ``busy_timeout`` instead of a ``database is locked`` failure.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:  # pyright: ignore[reportUnusedFunction]
        dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(cursor, busy_timeout_ms)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        dbapi_conn.create_function("kern_lower", 1, _python_lower, deterministic=True)  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
