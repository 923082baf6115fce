"""Schema revisions: fresh stores are created at head, old ones are refused until ``kern db upgrade``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from kern import cli
from kern.db._sql.engines import engine_for_url
from kern.db._sql.executor import in_transaction
from kern.db._sql.migrate import HEAD_REVISION, MIGRATIONS_DIR, current_revision, downgrade
from kern.db._sql.tables import DEFAULT_PREFIX, Tables
from kern.db.base import SyncDb, tables_for
from kern.db.in_memory import InMemoryDb
from kern.db.postgres import AsyncPostgresDb, PostgresDb
from kern.db.sqlite import AsyncSqliteDb, SqliteDb
from kern.exceptions import SchemaVersionError, UsageError
from kern.session.schema import SessionType

pytestmark = pytest.mark.anyio

TABLES = ("sessions", "runs", "messages", "workflow_steps", "memories", "schema_version")


@dataclass
class Target:
    """A fresh, empty place for a store: a SQLite file or a PostgreSQL schema."""

    url: str
    schema: str | None

    def open(self, table_prefix: str = DEFAULT_PREFIX) -> SyncDb:
        """A sync face on this target."""
        if self.schema is None:
            return SqliteDb(db_url=self.url, table_prefix=table_prefix)
        return PostgresDb(self.url, db_schema=self.schema, table_prefix=table_prefix)

    def cli_args(self) -> list[str]:
        """The ``--db-url`` (and ``--db-schema``) arguments of ``kern db``."""
        return ["--db-url", self.url] + (["--db-schema", self.schema] if self.schema else [])

    def tables(self, table_prefix: str = DEFAULT_PREFIX) -> Tables:
        """The tables of a store on this target."""
        return tables_for(table_prefix, self.schema)

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        """A Kern-configured sync engine on this target, disposed afterwards."""
        engine = engine_for_url(self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    def table_names(self) -> set[str]:
        """Every table in the target's database (or schema)."""
        with self.engine() as engine:
            return set(inspect(engine).get_table_names(schema=self.schema))

    def revision(self, table_prefix: str = DEFAULT_PREFIX) -> str | None:
        """The schema revision recorded for ``table_prefix``, read without Kern's store."""
        with self.engine() as engine, engine.connect() as conn:
            return in_transaction(conn, False, partial(current_revision, tables=self.tables(table_prefix)))

    def set_revision(self, revision: str) -> None:
        """Overwrite the recorded revision, as a newer Kern's migration would have left it."""
        with self.engine() as engine, engine.connect() as conn:
            sql = f"UPDATE {self._version_table()} SET version_num = '{revision}'"
            in_transaction(conn, True, lambda c: c.exec_driver_sql(sql))

    def version_rows(self) -> list[tuple[Any, ...]]:
        """Every row of the default prefix's version table."""
        with self.engine() as engine, engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT version_num FROM {self._version_table()}")
            return [tuple(row) for row in rows]

    def _version_table(self) -> str:
        version = self.tables().version_table
        return f'"{self.schema}"."{version}"' if self.schema else f'"{version}"'


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A fresh SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        return Target(f"sqlite:///{tmp_path / 'kern.db'}", None)
    return Target(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema"))


def test_head_revision_is_the_migrations_head() -> None:
    """The revision Kern checks for is the head of its Alembic migrations."""
    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == HEAD_REVISION


def test_fresh_store_is_created_at_head_on_first_use(target: Target) -> None:
    """The first operation on an empty database creates every table and records the head revision."""
    assert target.revision() is None
    with target.open() as db:
        assert db.get_sessions() == []
    assert target.revision() == HEAD_REVISION
    assert target.table_names() == {f"{DEFAULT_PREFIX}{name}" for name in TABLES}


def test_migrated_schema_matches_the_table_metadata(target: Target) -> None:
    """Migrating to head builds exactly the tables, columns, indexes and keys of the metadata."""
    with target.open() as db:
        db.get_sessions()
    tables = target.tables()

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "schema" or name == tables.schema

    opts = {
        "version_table": tables.version_table,
        "version_table_schema": tables.schema,
        "include_schemas": tables.schema is not None,
        "include_name": include_name,
        "compare_type": True,
    }
    with target.engine() as engine, engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts=opts), tables.metadata)
    assert differences == []


def downgrade_to(target: Target, revision: str) -> None:
    """Revert the target's Kern tables to ``revision``, as an operator would."""
    with target.engine() as engine, engine.connect() as conn:
        in_transaction(conn, True, partial(downgrade, tables=target.tables(), revision=revision))


def test_old_store_is_refused_until_kern_db_upgrade(target: Target) -> None:
    """A store at an old revision raises SchemaVersionError naming `kern db upgrade`; after it, it works."""
    with target.open() as db:
        db.create_session("before", SessionType.AGENT, session_state={"n": 1})
    downgrade_to(target, "0001")
    assert target.revision() == "0001"
    with target.open() as db:
        with pytest.raises(SchemaVersionError, match="kern db upgrade") as info:
            db.get_sessions()
        assert "0001" in str(info.value)
        assert target.revision() == "0001"  # nothing was migrated behind the user's back
        assert cli.main(["db", "upgrade", *target.cli_args()]) == 0
        session = db.get_session("before")
        assert session is not None
        assert session.session_state == {"n": 1}
        db.create_session("after", SessionType.AGENT)
    assert target.revision() == HEAD_REVISION


def test_store_from_a_newer_kern_is_refused_without_the_upgrade_advice(target: Target) -> None:
    """A store at a revision this Kern does not know raises SchemaVersionError without `kern db upgrade`."""
    with target.open() as db:
        db.get_sessions()
    target.set_revision("9999")
    with target.open() as db, pytest.raises(SchemaVersionError, match="9999") as info:
        db.get_sessions()
    assert "kern db upgrade" not in str(info.value)


def test_kern_db_upgrade_of_a_store_from_a_newer_kern_exits_1(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kern db upgrade` on a store at an unknown revision exits 1 with the reason and changes nothing."""
    with target.open() as db:
        db.get_sessions()
    target.set_revision("9999")
    assert cli.main(["db", "upgrade", *target.cli_args()]) == 1
    assert "9999" in capsys.readouterr().err
    assert target.revision() == "9999"


def test_kern_db_upgrade_to_an_unknown_revision_exits_1(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kern db upgrade --revision` naming no migration exits 1 with the reason and creates nothing."""
    assert cli.main(["db", "upgrade", *target.cli_args(), "--revision", "nope"]) == 1
    assert "nope" in capsys.readouterr().err
    assert target.revision() is None


async def test_old_store_is_refused_by_the_async_faces(target: Target) -> None:
    """The async faces check the revision too."""
    with target.open() as db:
        db.get_sessions()
    downgrade_to(target, "0001")
    face = (
        AsyncSqliteDb(db_url=target.url)
        if target.schema is None
        else AsyncPostgresDb(target.url, db_schema=target.schema)
    )
    async with face as db:
        with pytest.raises(SchemaVersionError, match="kern db upgrade"):
            await db.get_sessions()


def test_kern_db_current_prints_the_revision(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    """`kern db current` prints the store's revision and the one this Kern needs."""
    with target.open() as db:
        db.get_sessions()
    downgrade_to(target, "0001")
    assert cli.main(["db", "current", *target.cli_args()]) == 0
    out = capsys.readouterr().out
    assert "0001" in out
    assert HEAD_REVISION in out


def test_kern_db_current_on_an_empty_database(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    """`kern db current` on a database without Kern tables says there is no revision, creating nothing."""
    assert cli.main(["db", "current", *target.cli_args()]) == 0
    assert "none" in capsys.readouterr().out
    assert target.revision() is None


def test_kern_db_upgrade_creates_a_fresh_store(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    """`kern db upgrade` on an empty database creates the store at head and prints the revision."""
    assert cli.main(["db", "upgrade", *target.cli_args()]) == 0
    assert f"current revision: {HEAD_REVISION}" in capsys.readouterr().out
    assert target.revision() == HEAD_REVISION


def test_custom_table_prefix_names_every_table(target: Target) -> None:
    """A store with table_prefix creates all of its tables, and only those, under that prefix."""
    prefix = "team_a_"
    with target.open(table_prefix=prefix) as db:
        db.create_session("s1", SessionType.AGENT)
    assert target.table_names() == {f"{prefix}{name}" for name in TABLES}
    assert target.revision(prefix) == HEAD_REVISION


def test_stores_with_different_prefixes_share_a_database(target: Target) -> None:
    """Two prefixes in one database are two independent stores."""
    with target.open() as default, target.open(table_prefix="other_") as other:
        default.create_session("s1", SessionType.AGENT, session_state={"who": "default"})
        other.create_session("s1", SessionType.AGENT, session_state={"who": "other"})
        sessions = (default.get_session("s1"), other.get_session("s1"))
    assert [s.session_state if s else None for s in sessions] == [{"who": "default"}, {"who": "other"}]


@pytest.mark.parametrize("prefix", ["x;drop", "kern-", "a b", "é_"])
def test_invalid_table_prefix_is_a_usage_error(prefix: str, tmp_path: Path) -> None:
    """A table prefix with anything but letters, digits and underscores raises UsageError."""
    with pytest.raises(UsageError, match="table_prefix"):
        SqliteDb(db_file=tmp_path / "kern.db", table_prefix=prefix)
    with pytest.raises(UsageError, match="table_prefix"):
        InMemoryDb(table_prefix=prefix)
    assert not (tmp_path / "kern.db").exists()


def test_invalid_table_prefix_on_postgres_is_a_usage_error(pg_url: str) -> None:
    """PostgresDb rejects a bad table prefix or schema name before touching the database."""
    with pytest.raises(UsageError, match="table_prefix"):
        PostgresDb(pg_url, table_prefix="x;drop")
    with pytest.raises(UsageError, match="db_schema"):
        PostgresDb(pg_url, db_schema='x"; drop schema public; --')


def test_kern_db_rejects_an_invalid_table_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kern db` with a bad --table-prefix exits 1 with the reason, creating nothing."""
    db_file = tmp_path / "kern.db"
    assert cli.main(["db", "upgrade", "--db-url", f"sqlite:///{db_file}", "--table-prefix", "x;drop"]) == 1
    assert "table_prefix" in capsys.readouterr().err
    assert not db_file.exists()


async def test_concurrent_first_use_creates_the_schema_once(target: Target) -> None:
    """Four stores opening one fresh database at once all work; the schema is created once."""
    stores = 4
    barrier = threading.Barrier(stores)

    def first_use(n: int) -> None:
        with target.open() as db:
            barrier.wait(timeout=10)
            db.create_session(f"s{n}", SessionType.AGENT)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(stores):
                tg.start_soon(anyio.to_thread.run_sync, first_use, n)
    assert target.version_rows() == [(HEAD_REVISION,)]
    with target.open() as db:
        assert sorted(s.session_id for s in db.get_sessions()) == [f"s{n}" for n in range(stores)]
