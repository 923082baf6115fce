"""Building SQLAlchemy engines from the URLs and file names users pass to the store faces.

SQLite URLs may name any driver (``sqlite://``, ``sqlite+pysqlite://``, ``sqlite+aiosqlite://``); both
SQLite faces drive pysqlite. Accepted PostgreSQL URLs: ``postgresql://``, ``postgres://``,
``postgresql+psycopg://`` and ``postgresql+asyncpg://``. Sync faces always drive psycopg 3; async faces
drive psycopg 3's async mode unless the URL asks for asyncpg.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.pool import StaticPool

from kern.db._sql.dialect import configure_sqlite
from kern.exceptions import UsageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

SQLITE_BUSY_TIMEOUT_MS = 15_000


def sqlite_url(*, db_file: str | Path | None, db_url: str | None, face: str) -> URL:
    """The SQLite URL for ``db_file`` or ``db_url`` (exactly one), creating the file's directory."""
    if (db_file is None) == (db_url is None):
        raise UsageError(f"{face} takes exactly one of db_file= or db_url=")
    if db_file is not None:
        path = Path(db_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(path))
    url = make_url(str(db_url))
    if url.get_backend_name() != "sqlite":
        raise UsageError(f"{face}(db_url=...) needs a sqlite:// URL, got {url.render_as_string()!r}")
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def sqlite_engine(url: URL) -> Engine:
    """A sync engine on the pysqlite driver, for both SQLite faces.

    Whatever driver the URL names (``sqlite+aiosqlite://`` included) the engine drives pysqlite:
    ``AsyncSqliteDb`` awaits each whole transaction in one worker thread rather than going through an
    async driver's thread one DB-API call at a time. pysqlite's pool for a file hands connections to
    any thread (``check_same_thread=False``); each is used by one thread at a time.
    """
    engine = create_engine(url.set(drivername="sqlite+pysqlite"))
    configure_sqlite(engine, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
    return engine


def memory_engine() -> Engine:
    """One private in-memory SQLite database shared by every thread of the process (callers serialize)."""
    engine = create_engine(
        "sqlite+pysqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    configure_sqlite(engine, busy_timeout_ms=0, watch_file=False)
    return engine


def postgres_url(db_url: str, *, async_: bool) -> URL:
    """Normalise a PostgreSQL URL to the driver the face uses."""
    url = make_url(db_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise UsageError(f"PostgresDb needs a postgresql:// URL, got {url.render_as_string()!r}")
    wants_asyncpg = url.get_driver_name() == "asyncpg"
    driver = "postgresql+asyncpg" if async_ and wants_asyncpg else "postgresql+psycopg"
    return url.set(drivername=driver)


def postgres_engine(url: URL) -> Engine:
    """A sync engine on psycopg 3 with connection health checks."""
    return create_engine(url, pool_pre_ping=True)


def async_postgres_engine(url: URL) -> AsyncEngine:
    """An async engine on psycopg 3 (or asyncpg when the URL says so)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(url, pool_pre_ping=True)


def engine_for_url(db_url: str) -> Engine:
    """A sync engine for any URL a face accepts (used by ``kern db``)."""
    if make_url(db_url).get_backend_name() == "sqlite":
        return sqlite_engine(sqlite_url(db_file=None, db_url=db_url, face="kern db"))
    return postgres_engine(postgres_url(db_url, async_=False))
