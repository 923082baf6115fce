"""PostgreSQL faces: ``PostgresDb`` (sync methods, psycopg 3) and ``AsyncPostgresDb`` (awaitable).

Accepts ``postgresql://``, ``postgresql+psycopg://`` and ``postgresql+asyncpg://`` URLs; ``db_schema``
puts Kern's tables in their own schema (created on first use).
"""

from __future__ import annotations

from kern.db._sql.engines import async_postgres_engine, postgres_engine, postgres_url
from kern.db._sql.executor import AsyncExecutor, SyncExecutor
from kern.db._sql.tables import DEFAULT_PREFIX
from kern.db.base import AsyncDb, SyncDb, tables_for, upgrade_hint

__all__ = ["AsyncPostgresDb", "PostgresDb"]


class PostgresDb(SyncDb):
    """A PostgreSQL store with sync methods: ``PostgresDb(db_url="postgresql+psycopg://...")``."""

    def __init__(
        self, db_url: str, *, db_schema: str | None = None, table_prefix: str = DEFAULT_PREFIX
    ) -> None:
        url = postgres_url(db_url, async_=False)
        tables = tables_for(table_prefix, db_schema)
        self.db_url = url.render_as_string(hide_password=True)
        super().__init__(
            SyncExecutor(postgres_engine(url), tables, upgrade_hint=upgrade_hint(self.db_url, tables))
        )


class AsyncPostgresDb(AsyncDb):
    """A PostgreSQL store with awaitable methods (psycopg 3 async, or asyncpg when the URL names it)."""

    def __init__(
        self, db_url: str, *, db_schema: str | None = None, table_prefix: str = DEFAULT_PREFIX
    ) -> None:
        url = postgres_url(db_url, async_=True)
        tables = tables_for(table_prefix, db_schema)
        self.db_url = url.render_as_string(hide_password=True)
        super().__init__(
            AsyncExecutor(async_postgres_engine(url), tables, upgrade_hint=upgrade_hint(self.db_url, tables))
        )
