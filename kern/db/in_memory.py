"""``InMemoryDb``: a store that lives as long as the process, for tests, scripts and the default.

It is the same implementation on a private in-memory SQLite database, so it encodes state on every
write exactly as the real backends do (a value the codec rejects fails here too) and enforces the same
ownership, ordering and claim rules. Operations run one at a time; state persists across runs of the
process and is gone when it exits.
"""

from __future__ import annotations

from kern.db._sql.engines import memory_engine
from kern.db._sql.executor import SyncExecutor
from kern.db._sql.tables import DEFAULT_PREFIX
from kern.db.base import SyncDb, tables_for

__all__ = ["InMemoryDb"]


class InMemoryDb(SyncDb):
    """An in-process store with sync methods; ``db.store`` is its awaitable interface."""

    def __init__(self, *, table_prefix: str = DEFAULT_PREFIX) -> None:
        tables = tables_for(table_prefix)
        super().__init__(
            SyncExecutor(
                memory_engine(),
                tables,
                upgrade_hint="(in-memory stores are always created at head)",
                serialize=True,
            )
        )
