"""The database faces users construct, and what they share.

* :class:`SyncDb` (``SqliteDb``, ``PostgresDb``, ``InMemoryDb``): the session management API as plain
  methods, each one line over the store's single implementation on a sync engine.
* :class:`AsyncDb` (``AsyncSqliteDb``, ``AsyncPostgresDb``): the same method names, awaitable; an async
  face *is* a :class:`~kern.db.store.SessionStore`, on an async engine (PostgreSQL) or on the sync
  SQLite engine awaited one worker-thread hop per transaction.

Both read ``user_id=None`` as the seeds do: no owner filter (an administrator's view), passed to the
implementation as the explicit :data:`~kern.db.records.ANY_USER`; see :mod:`kern.db.store`.

Every face has ``.store``, the awaitable interface the runtime (Agent, Team, Workflow) uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from kern.db._sql import memories, sessions
from kern.db._sql.executor import AnyExecutor, SyncExecutor
from kern.db._sql.sessions import SortBy, SortOrder
from kern.db._sql.tables import DEFAULT_PREFIX, Tables, build_tables
from kern.db.records import owner_or_any
from kern.db.store import SessionStore
from kern.exceptions import UsageError
from kern.session.schema import RunRecord, Session, SessionType, UserMemory

__all__ = ["AsyncDb", "BaseDb", "SessionType", "SyncDb", "upgrade_hint"]


class BaseDb:
    """What every face has: its tables and its awaitable store."""

    store: SessionStore

    @property
    def table_prefix(self) -> str:
        """The prefix of this store's table names (default ``kern_``)."""
        return self.store.tables.prefix


class SyncDb(BaseDb):
    """A store with sync methods, over a sync engine; its ``store`` awaits through worker threads."""

    def __init__(self, executor: SyncExecutor) -> None:
        self._executor = executor
        self.store = SessionStore(executor)

    @property
    def _tables(self) -> Tables:
        return self._executor.tables

    def get_session(
        self, session_id: str, session_type: SessionType | None = None, user_id: str | None = None
    ) -> Session | None:
        """The session with its messages and runs, or None; see :meth:`SessionStore.get_session`."""
        return self._executor.read(
            sessions.get_session, self._tables, session_id, session_type, owner_or_any(user_id)
        )

    def get_sessions(
        self,
        session_type: SessionType | None = None,
        user_id: str | None = None,
        component_id: str | None = None,
        session_name: str | None = None,
        start_timestamp: int | None = None,
        end_timestamp: int | None = None,
        limit: int | None = None,
        page: int | None = None,
        sort_by: SortBy = "created_at",
        sort_order: SortOrder = "desc",
    ) -> list[Session]:
        """Sessions matching every filter given, sorted and paged; see :meth:`SessionStore.get_sessions`."""
        return self._executor.read(
            sessions.get_sessions,
            self._tables,
            session_type=session_type,
            owner=owner_or_any(user_id),
            component_id=component_id,
            session_name=session_name,
            start_timestamp=start_timestamp,
            end_timestamp=end_timestamp,
            limit=limit,
            page=page,
            sort_by=sort_by,
            sort_order=sort_order,
        )

    def rename_session(
        self, session_id: str, session_type: SessionType | None, session_name: str, user_id: str | None = None
    ) -> Session | None:
        """Rename a session and return it, or None; see :meth:`SessionStore.rename_session`."""
        return self._executor.write(
            sessions.rename_session,
            self._tables,
            session_id,
            session_type,
            session_name,
            owner_or_any(user_id),
        )

    def delete_session(self, session_id: str, user_id: str | None = None) -> bool:
        """Delete a session with its runs and messages; see :meth:`SessionStore.delete_session`."""
        return self._executor.write(sessions.delete_session, self._tables, session_id, owner_or_any(user_id))

    def delete_sessions(self, session_ids: Sequence[str], user_id: str | None = None) -> int:
        """Delete several sessions, all or none; see :meth:`SessionStore.delete_sessions`."""
        return self._executor.write(
            sessions.delete_sessions, self._tables, list(session_ids), owner_or_any(user_id)
        )

    def create_session(
        self,
        session_id: str,
        session_type: SessionType,
        *,
        user_id: str | None = None,
        component_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        session_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        """Create a session unless it exists, and return it; see :meth:`SessionStore.create_session`."""
        session, _ = self._executor.write(
            sessions.create_session,
            self._tables,
            session_id=session_id,
            session_type=session_type,
            user_id=user_id,
            component_id=component_id,
            session_state=session_state or {},
            session_name=session_name,
            metadata=metadata,
        )
        return session

    def get_runs(self, session_id: str, user_id: str | None = None) -> list[RunRecord]:
        """Every run of a session (member and step runs included), oldest first."""
        return self._executor.read(sessions.runs_of, self._tables, session_id, owner_or_any(user_id))

    def get_user_memories(self, user_id: str | None = None, limit: int | None = None) -> list[UserMemory]:
        """A user's memories, oldest first; see :meth:`SessionStore.get_user_memories`."""
        return self._executor.read(memories.get_user_memories, self._tables, owner_or_any(user_id), limit)

    def upsert_user_memory(self, memory: UserMemory) -> UserMemory:
        """Insert or update a memory; see :meth:`SessionStore.upsert_user_memory`."""
        return self._executor.write(memories.upsert_user_memory, self._tables, memory)

    def delete_user_memory(self, memory_id: str, user_id: str | None = None) -> bool:
        """Delete a memory; see :meth:`SessionStore.delete_user_memory`."""
        return self._executor.write(
            memories.delete_user_memory, self._tables, memory_id, owner_or_any(user_id)
        )

    def clear_memories(self, user_id: str | None = None) -> int:
        """Delete a user's (or all) memories; see :meth:`SessionStore.clear_memories`."""
        return self._executor.write(memories.clear_memories, self._tables, owner_or_any(user_id))

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self._executor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDb(SessionStore, BaseDb):
    """A store whose methods are awaitable, over either executor. It is its own ``store``."""

    def __init__(self, executor: AnyExecutor) -> None:
        super().__init__(executor)
        self._async_executor = executor
        self.store = self

    async def close(self) -> None:
        """Close the engine's pooled connections."""
        await self._async_executor.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def tables_for(table_prefix: str = DEFAULT_PREFIX, db_schema: str | None = None) -> Tables:
    """Validate a table prefix and schema name and build the tables."""
    for what, name in (("table_prefix", table_prefix), ("db_schema", db_schema or "x")):
        if not name.replace("_", "a").isalnum() or not name.isascii():
            raise UsageError(f"{what} may hold only letters, digits and underscores, got {name!r}")
    return build_tables(table_prefix, db_schema)


def upgrade_hint(db_url: str, tables: Tables) -> str:
    """The ``kern db upgrade`` command line for this store."""
    parts = ["kern db upgrade", f"--db-url '{db_url}'"]
    if tables.prefix != DEFAULT_PREFIX:
        parts.append(f"--table-prefix {tables.prefix}")
    if tables.schema:
        parts.append(f"--db-schema {tables.schema}")
    return " ".join(parts)
