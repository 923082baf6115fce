"""The URLs and file names the store faces accept, and the ones they refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from kern.db.postgres import AsyncPostgresDb, PostgresDb
from kern.db.sqlite import AsyncSqliteDb, SqliteDb
from kern.exceptions import UsageError
from kern.session import SessionType

pytestmark = pytest.mark.anyio

PG_DRIVERS = ["postgresql", "postgresql+psycopg", "postgresql+asyncpg"]


def with_driver(url: str, driver: str) -> str:
    """``url`` spelled with another driver name."""
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


@pytest.mark.parametrize("driver", PG_DRIVERS)
def test_postgres_sync_face_accepts_every_url_form(driver: str, pg_url: str, pg_schema: str) -> None:
    """PostgresDb works whichever PostgreSQL URL form it is given (always on psycopg 3)."""
    with PostgresDb(db_url=with_driver(pg_url, driver), db_schema=pg_schema) as db:
        db.create_session("s", SessionType.AGENT, session_state={"driver": driver})
        session = db.get_session("s")
    assert session is not None
    assert session.session_state == {"driver": driver}


@pytest.mark.parametrize("driver", PG_DRIVERS)
async def test_postgres_async_face_accepts_every_url_form(driver: str, pg_url: str, pg_schema: str) -> None:
    """AsyncPostgresDb works whichever PostgreSQL URL form it is given."""
    async with AsyncPostgresDb(db_url=with_driver(pg_url, driver), db_schema=pg_schema) as db:
        await db.create_session("s", SessionType.TEAM, session_state={"driver": driver})
        session = await db.get_session("s")
    assert session is not None
    assert session.session_state == {"driver": driver}


def test_sqlite_db_file_creates_its_directory(tmp_path: Path) -> None:
    """SqliteDb(db_file=...) creates missing parent directories, as the seeds' tmp/agents.db needs."""
    path = tmp_path / "nested" / "dir" / "agents.db"
    with SqliteDb(db_file=path) as db:
        db.create_session("s", SessionType.AGENT)
    assert path.exists()


async def test_sqlite_db_url_and_db_file_reach_the_same_store(tmp_path: Path) -> None:
    """A sqlite:/// URL and the same file name open one store, across the sync and async faces."""
    path = tmp_path / "kern.db"
    with SqliteDb(db_file=path) as db:
        db.create_session("s", SessionType.AGENT, session_state={"n": 1})
    async with AsyncSqliteDb(db_url=f"sqlite:///{path}") as adb:
        session = await adb.get_session("s")
    assert session is not None
    assert session.session_state == {"n": 1}


@pytest.mark.parametrize(
    "kwargs", [{}, {"db_file": "a.db", "db_url": "sqlite:///a.db"}, {"db_url": "postgresql://x/y"}]
)
def test_sqlite_face_refuses_ambiguous_or_foreign_locations(kwargs: dict[str, str]) -> None:
    """SqliteDb needs exactly one of db_file/db_url, and a sqlite URL."""
    with pytest.raises(UsageError):
        SqliteDb(**kwargs)  # type: ignore[arg-type]


def test_postgres_face_refuses_a_sqlite_url() -> None:
    """PostgresDb given a non-PostgreSQL URL says so."""
    with pytest.raises(UsageError, match="postgresql://"):
        PostgresDb(db_url="sqlite:///x.db")
