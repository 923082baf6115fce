"""Schema revisions: check at start-up, create a fresh store, upgrade an old one (through Alembic).

A store at head costs one ``SELECT`` on first use. A store with no Kern tables at all is created to
head automatically, under a lock so that concurrent processes do it once. A store at any other
revision is never migrated behind the user's back: it raises :class:`SchemaVersionError` naming the
``kern db upgrade`` command to run.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, inspect, select, text

from kern.db._sql.dialect import BEGIN_OPTION
from kern.db._sql.tables import Tables
from kern.exceptions import SchemaVersionError

HEAD_REVISION = "0002"
"""The revision this Kern needs; a test keeps it equal to the migrations' head."""

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def current_revision(conn: Connection, tables: Tables) -> str | None:
    """The revision recorded in the store, or None when it has no version table or no row."""
    if not inspect(conn).has_table(tables.version_table, schema=tables.schema):
        return None
    version = Table(tables.version_table, MetaData(schema=tables.schema), autoload_with=conn)
    return conn.execute(select(version.c.version_num)).scalar_one_or_none()


def check_schema(conn: Connection, tables: Tables, *, upgrade_hint: str) -> None:
    """Raise unless the store is at head; create a store that has no Kern tables at all.

    Runs inside a write transaction; ``upgrade_hint`` is the command to print when the store is old.
    """
    _lock_schema(conn, tables)
    revision = current_revision(conn, tables)
    if revision == HEAD_REVISION:
        return
    if revision is None and not _has_any_table(conn, tables):
        _alembic("upgrade", conn, tables, "head")
        return
    if revision is not None and revision not in known_revisions():
        raise SchemaVersionError(
            f"the database has schema revision {revision}, which this version of Kern does not know: "
            f"it was written by a newer Kern. Upgrade Kern (it needs revision {HEAD_REVISION} or later)."
        )
    found = f"schema revision {revision}" if revision else "Kern tables but no schema revision"
    raise SchemaVersionError(
        f"the database has {found}; this version of Kern needs revision {HEAD_REVISION}. Run: {upgrade_hint}"
    )


def upgrade(conn: Connection, tables: Tables, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` inside the caller's write transaction."""
    _lock_schema(conn, tables)
    _alembic("upgrade", conn, tables, revision)


def downgrade(conn: Connection, tables: Tables, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` drops every Kern table)."""
    _lock_schema(conn, tables)
    _alembic("downgrade", conn, tables, revision)


def known_revisions() -> set[str]:
    """Every revision among Kern's migrations (reads the migration scripts; slow path only)."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}


def _alembic(direction: str, conn: Connection, tables: Tables, revision: str) -> None:
    """Run Alembic (imported only here, never at ``import kern``) on our connection and tables."""
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    config.attributes["tables"] = tables
    try:
        getattr(command, direction)(config, revision)
    except CommandError as exc:
        raise SchemaVersionError(f"cannot {direction} the database to revision {revision!r}: {exc}") from exc


def _has_any_table(conn: Connection, tables: Tables) -> bool:
    existing = set(inspect(conn).get_table_names(schema=tables.schema))
    return any(table.name in existing for table in tables.metadata.sorted_tables)


def _lock_schema(conn: Connection, tables: Tables) -> None:
    """Serialise schema checks across processes: an advisory lock on PostgreSQL.

    On SQLite the caller's write transaction began IMMEDIATE and already serialises writers.
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"kern-schema:{tables.schema}:{tables.prefix}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        if tables.schema:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{tables.schema}"'))
    else:
        assert conn.get_execution_options().get(BEGIN_OPTION) == "IMMEDIATE"
