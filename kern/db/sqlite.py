"""SQLite faces: ``SqliteDb`` (sync methods) and ``AsyncSqliteDb`` (awaitable methods).

Both run the one store implementation; the file is opened in WAL mode with a busy timeout, and write
transactions begin IMMEDIATE, so several processes can share one file safely. A file deleted or replaced
while a store has it open fails the store's next operation with ``StorageError`` (see
``kern.db._sql.dialect.SqliteFile``) instead of writing where no one will read.

Both faces drive the same pysqlite engine. ``AsyncSqliteDb`` awaits each whole transaction in one
worker-thread hop (``anyio.to_thread.run_sync``), as ``SqliteDb.store`` does; a ``sqlite+aiosqlite://``
URL is accepted and means the same file.
"""

from __future__ import annotations

from pathlib import Path

from kern.db._sql.engines import sqlite_engine, sqlite_url
from kern.db._sql.executor import SyncExecutor
from kern.db._sql.tables import DEFAULT_PREFIX
from kern.db.base import AsyncDb, SyncDb, tables_for, upgrade_hint

__all__ = ["AsyncSqliteDb", "SqliteDb"]


class SqliteDb(SyncDb):
    """A SQLite store with sync methods: ``SqliteDb(db_file="tmp/agents.db")``.

    Give exactly one of ``db_file`` (its directory is created) or ``db_url`` (``sqlite:///path``).
    """

    def __init__(
        self,
        db_file: str | Path | None = None,
        *,
        db_url: str | None = None,
        table_prefix: str = DEFAULT_PREFIX,
    ) -> None:
        url = sqlite_url(db_file=db_file, db_url=db_url, face="SqliteDb")
        tables = tables_for(table_prefix)
        self.db_url = url.render_as_string()
        super().__init__(
            SyncExecutor(sqlite_engine(url), tables, upgrade_hint=upgrade_hint(self.db_url, tables))
        )


class AsyncSqliteDb(AsyncDb):
    """A SQLite store with awaitable methods: ``AsyncSqliteDb(db_file="tmp/agents.db")``.

    Give exactly one of ``db_file`` or ``db_url`` (``sqlite:///path``; ``sqlite+aiosqlite:///path`` too).
    Each operation is one transaction run in one worker-thread hop; a cancelled caller waits for it.
    """

    def __init__(
        self,
        db_file: str | Path | None = None,
        *,
        db_url: str | None = None,
        table_prefix: str = DEFAULT_PREFIX,
    ) -> None:
        url = sqlite_url(db_file=db_file, db_url=db_url, face="AsyncSqliteDb")
        tables = tables_for(table_prefix)
        self.db_url = url.render_as_string()
        super().__init__(
            SyncExecutor(sqlite_engine(url), tables, upgrade_hint=upgrade_hint(self.db_url, tables))
        )
