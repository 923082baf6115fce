"""The store's awaitable interface: the session management API plus the runtime's claim/commit calls.

Agents, Teams and Workflows talk to storage only through a :class:`SessionStore`; every database face
has one (``db.store``), whichever engine it drives. The async faces *are* stores.

The owner rule. Management methods (``get_session``, ``get_sessions``, ``rename_session``,
``delete_session(s)``, ``get_runs``, ``journal``, ``get_user_memories``, ``delete_user_memory``,
``clear_memories``, ``get_session_summary``) filter on the ``user_id`` given, and read ``user_id=None``
as the seeds do: no filter, an administrator's view, passed down as the explicit
:data:`~kern.db.records.ANY_USER`. Runtime methods (``claim``, ``history``, ``summary_input``,
``set_session_summary``, ``journal_of``, ``memories_of``, ``delete_memory_of``, ``upsert_user_memory``)
take an exact :data:`~kern.db.records.Owner`: None is the anonymous owner (SQL NULL), never "any
user", and their types refuse ANY_USER.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from kern.db._sql import claims, memories, sessions
from kern.db._sql.executor import AnyExecutor
from kern.db._sql.journal import journal_of, read_journal
from kern.db._sql.sessions import SortBy, SortOrder
from kern.db._sql.tables import Tables
from kern.db._waiters import SessionWaiters
from kern.db.records import Busy, Claim, OnBusy, Owner, Replay, RunWrite, owner_or_any
from kern.exceptions import SessionBusyError, UsageError
from kern.models.message import Message
from kern.session.patch import PatchOp
from kern.session.schema import RunRecord, Session, SessionSummary, SessionType, StepRecord, UserMemory
from kern.session.status import RunStatus

DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_BUSY_TIMEOUT = 120.0


class SessionStore:
    """Awaitable access to one store, shared by all faces."""

    def __init__(self, executor: AnyExecutor) -> None:
        self._executor = executor
        self._waiters = SessionWaiters()

    @property
    def tables(self) -> Tables:
        """The tables this store reads and writes."""
        return self._executor.tables

    async def get_session(
        self, session_id: str, session_type: SessionType | None = None, user_id: str | None = None
    ) -> Session | None:
        """Return the session with its messages and runs, or None if it does not exist.

        With ``user_id``, a session owned by another user is returned as None. With ``session_type``,
        a session of another type is None too. A failed read raises StorageError.
        """
        return await self._executor.aread(
            sessions.get_session, self.tables, session_id, session_type, owner_or_any(user_id)
        )

    async def get_sessions(
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
        """List sessions matching every filter given, sorted and paged (``page`` counts from 1).

        ``session_name`` matches part of the name, ignoring case; timestamps bound ``created_at``
        (unix seconds, inclusive). Sessions come with their messages; runs are not loaded.
        """
        return await self._executor.aread(
            sessions.get_sessions,
            self.tables,
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

    async def rename_session(
        self, session_id: str, session_type: SessionType | None, session_name: str, user_id: str | None = None
    ) -> Session | None:
        """Rename a session and return it; None if it does not exist.

        Raises SessionOwnershipError, changing nothing, when ``user_id`` does not own it.
        """
        return await self._executor.awrite(
            sessions.rename_session,
            self.tables,
            session_id,
            session_type,
            session_name,
            owner_or_any(user_id),
        )

    async def delete_session(self, session_id: str, user_id: str | None = None) -> bool:
        """Delete a session with its runs and messages; False if it did not exist.

        Raises SessionOwnershipError, deleting nothing, when ``user_id`` does not own it.
        """
        return await self._executor.awrite(
            sessions.delete_session, self.tables, session_id, owner_or_any(user_id)
        )

    async def delete_sessions(self, session_ids: Sequence[str], user_id: str | None = None) -> int:
        """Delete several sessions, all or none; returns how many existed.

        Raises SessionOwnershipError, deleting nothing, when any of them is not owned by ``user_id``.
        """
        return await self._executor.awrite(
            sessions.delete_sessions, self.tables, list(session_ids), owner_or_any(user_id)
        )

    async def create_session(
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
        """Create a session unless it exists, and return it.

        An existing session must have the same owner (``user_id``, None included) and type, else
        SessionOwnershipError or UsageError. ``session_state`` applies only when the session is created.
        """
        session, _ = await self._executor.awrite(
            sessions.create_session,
            self.tables,
            session_id=session_id,
            session_type=session_type,
            user_id=user_id,
            component_id=component_id,
            session_state=session_state or {},
            session_name=session_name,
            metadata=metadata,
        )
        return session

    async def get_runs(self, session_id: str, user_id: str | None = None) -> list[RunRecord]:
        """Every run of a session (member and step runs included), oldest first; with ``user_id``, its own."""
        return await self._executor.aread(sessions.runs_of, self.tables, session_id, owner_or_any(user_id))

    async def claim(
        self,
        session_id: str,
        session_type: SessionType,
        *,
        run_id: str,
        user_id: str | None = None,
        component_id: str | None = None,
        initial_state: Mapping[str, Any] | None = None,
        on_busy: OnBusy = "wait",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        start: RunWrite | None = None,
    ) -> Claim:
        """Lease the session to ``run_id``, creating it with ``initial_state`` if it does not exist.

        ``start`` (the run's row and first messages) is written in the claiming transaction.
        When another run holds it: ``on_busy="reject"`` raises SessionBusyError at once; ``"wait"``
        retries until the holder releases it or its lease expires, up to ``busy_timeout`` seconds.
        """
        if start is not None and start.run.idempotency_key is not None:
            raise UsageError("a start with an idempotency key may be replayed: use claim_or_replay")
        result = await self.claim_or_replay(
            session_id,
            session_type,
            run_id=run_id,
            user_id=user_id,
            component_id=component_id,
            initial_state=initial_state,
            on_busy=on_busy,
            busy_timeout=busy_timeout,
            lease_seconds=lease_seconds,
            start=start,
        )
        assert isinstance(result, Claim)  # only a start with an idempotency key can be replayed
        return result

    async def claim_or_replay(
        self,
        session_id: str,
        session_type: SessionType,
        *,
        run_id: str,
        user_id: str | None = None,
        component_id: str | None = None,
        initial_state: Mapping[str, Any] | None = None,
        on_busy: OnBusy = "wait",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        start: RunWrite | None = None,
    ) -> Claim | Replay:
        """:meth:`claim`, except that a ``start`` whose run carries an idempotency key that a completed
        run of the session already has gets that run back as a :class:`Replay`, and nothing is claimed.

        The check runs in the claiming transaction, once the session is free, so two calls with the same
        key run once: the second waits for the first and replays it.
        """
        if on_busy not in ("wait", "reject"):
            raise UsageError(f"on_busy must be 'wait' or 'reject', got {on_busy!r}")

        async def attempt() -> Claim | Busy | Replay:
            return await self._executor.awrite(
                claims.try_claim,
                self.tables,
                session_id=session_id,
                session_type=session_type,
                user_id=user_id,
                component_id=component_id,
                run_id=run_id,
                initial_state=initial_state or {},
                lease_seconds=lease_seconds,
                start=start,
            )

        result = await attempt()
        if not isinstance(result, Busy):
            return result
        if on_busy == "reject":
            raise _busy(session_id, result, waited=False)
        deadline = anyio.current_time() + busy_timeout
        delay = 0.005
        with self._waiters.queued(session_id) as waiter:
            while isinstance(result, Busy):
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    raise _busy(session_id, result, waited=True)
                until_expiry = max(result.expires_at - time.time(), 0.0)
                # the first in line polls; the others are woken in turn, and poll only as a fallback
                pause = delay * (1 + random.random()) if self._waiters.is_first(session_id, waiter) else 0.25
                await waiter.wait(min(pause, remaining, until_expiry + 0.001))
                delay = min(delay * 2, 0.25)
                result = await attempt()
        return result

    async def renew(self, claim: Claim, lease_seconds: float | None = None) -> float:
        """Extend a claim's lease to now + ``lease_seconds`` (default: the claim's lease length).

        Returns the new expiry; raises ClaimLostError if another run took the session over.
        """
        return await self._executor.awrite(claims.renew, self.tables, claim, _lease(claim, lease_seconds))

    async def release(
        self, claim: Claim, *, status: RunStatus = RunStatus.error, error: str | None = None
    ) -> bool:
        """Release a claim; False if it had already been taken over.

        For a run that ends without a final commit (``commit(..., release=True)``): if the claim's run
        row is still ``running``, it becomes ``status`` (error or cancelled) with ``error`` in the
        releasing transaction, so no run is left ``running`` by a live process.
        """
        released = await self._executor.awrite(claims.release, self.tables, claim, status=status, error=error)
        self._waiters.released(claim.session_id)
        return released

    async def commit(
        self,
        claim: Claim,
        *,
        state_patch: Sequence[PatchOp] = (),
        writes: Sequence[RunWrite] = (),
        lease_seconds: float | None = None,
        release: bool = False,
        steps: Sequence[StepRecord] = (),
    ) -> int:
        """Apply a run's state changes to the current state, upsert its runs, append its messages and
        write its workflow journal rows (``steps``).

        One short transaction that re-checks the claim's fencing token first: a claim that was taken
        over raises ClaimLostError and writes nothing. The lease is extended by ``lease_seconds`` (default:
        the claim's lease length), or given up with ``release``. Returns the session's new version.
        """
        version = await self._executor.awrite(
            claims.commit,
            self.tables,
            claim,
            state_patch=state_patch,
            writes=writes,
            lease_seconds=_lease(claim, lease_seconds),
            release=release,
            steps=steps,
        )
        if release:
            self._waiters.released(claim.session_id)
        return version

    async def journal(
        self, run_id: str, user_id: str | None = None
    ) -> tuple[RunRecord, list[StepRecord]] | None:
        """A run with its workflow journal (steps in the order they started); None if there is no such run.

        With ``user_id``, a run of another user is None too. Management: a resume reads
        :meth:`journal_of`.
        """
        return await self._executor.aread(read_journal, self.tables, run_id, owner_or_any(user_id))

    async def journal_of(self, run_id: str, user_id: Owner) -> tuple[RunRecord, list[StepRecord]] | None:
        """What resuming ``run_id`` as exactly ``user_id`` (None: the anonymous owner) reads: the run and
        its journal; None if there is no such run.

        Raises SessionOwnershipError if the run's session belongs to another owner.
        """
        return await self._executor.aread(journal_of, self.tables, run_id, user_id)

    async def history(
        self, session_id: str, user_id: Owner, num_runs: int | None = None, after: float | None = None
    ) -> list[Message]:
        """Non-system messages of the last ``num_runs`` completed top-level runs of exactly ``user_id``
        (None: the anonymous owner), oldest first.

        With ``after`` (unix seconds), only runs started after it count (the runs a summary does not cover).
        """
        return await self._executor.aread(
            claims.history,
            self.tables,
            session_id=session_id,
            user_id=user_id,
            num_runs=num_runs,
            after=after,
        )

    # --- user memories and summaries ------------------------------------------------------------------------

    async def get_user_memories(
        self, user_id: str | None = None, limit: int | None = None
    ) -> list[UserMemory]:
        """The memories of ``user_id`` (every user's when None), oldest first; the newest ``limit`` if set.

        Management; a run reads its user's with :meth:`memories_of`.
        """
        return await self._executor.aread(
            memories.get_user_memories, self.tables, owner_or_any(user_id), limit
        )

    async def memories_of(self, user_id: Owner, limit: int | None = None) -> list[UserMemory]:
        """The memories of exactly ``user_id``, oldest first (the newest ``limit`` if set).

        None is the anonymous owner: the memories of runs without a user id, which no user id reaches.
        """
        return await self._executor.aread(memories.get_user_memories, self.tables, user_id, limit)

    async def upsert_user_memory(self, memory: UserMemory) -> UserMemory:
        """Insert a memory (given an id if it has none) or update the one with its id; returns it stored.

        ``memory.user_id`` is its exact owner (None: the anonymous owner). Raises SessionOwnershipError,
        changing nothing, if the memory with that id belongs to another owner.
        """
        return await self._executor.awrite(memories.upsert_user_memory, self.tables, memory)

    async def delete_user_memory(self, memory_id: str, user_id: str | None = None) -> bool:
        """Delete a memory; False if there is none. SessionOwnershipError if another user owns it.

        Management (``user_id=None``: whoever owns it); a run deletes with :meth:`delete_memory_of`.
        """
        return await self._executor.awrite(
            memories.delete_user_memory, self.tables, memory_id, owner_or_any(user_id)
        )

    async def delete_memory_of(self, memory_id: str, user_id: Owner) -> bool:
        """Delete a memory of exactly ``user_id``; False if there is none, SessionOwnershipError if
        another owner (the anonymous one included) has it."""
        return await self._executor.awrite(memories.delete_user_memory, self.tables, memory_id, user_id)

    async def clear_memories(self, user_id: str | None = None) -> int:
        """Delete the memories of ``user_id`` (all memories when None); returns how many there were."""
        return await self._executor.awrite(memories.clear_memories, self.tables, owner_or_any(user_id))

    async def get_session_summary(self, session_id: str, user_id: str | None = None) -> SessionSummary | None:
        """A session's summary; None if it has none (or the session does not exist, or is another user's)."""
        return await self._executor.aread(
            memories.get_summary, self.tables, session_id, owner_or_any(user_id)
        )

    async def summary_input(
        self, session_id: str, user_id: Owner
    ) -> tuple[SessionSummary | None, list[Message], float | None]:
        """What the next summary of exactly ``user_id``'s session is made from: the current summary, the
        messages it does not cover yet (of completed runs started after its ``last_run_at``) and the
        start of the newest such run."""
        return await self._executor.aread(memories.summary_input, self.tables, session_id, user_id)

    async def set_session_summary(
        self, session_id: str, user_id: Owner, summary: SessionSummary, replaces: float | None = None
    ) -> bool:
        """Store a session's summary if the stored one is still the one it was made from (whose
        ``last_run_at`` is ``replaces``; None: no summary yet); False if not, or if there is no session.

        The session must be owned by exactly ``user_id``.
        """
        return await self._executor.awrite(
            memories.set_summary, self.tables, session_id, user_id, summary, replaces
        )


def _lease(claim: Claim, lease_seconds: float | None) -> float:
    """The lease length to extend by: the one asked for, else the claim's own."""
    return claim.lease_seconds if lease_seconds is None else lease_seconds


def _busy(session_id: str, busy: Busy, *, waited: bool) -> SessionBusyError:
    why = "and the wait timed out" if waited else "(on_busy='reject')"
    return SessionBusyError(
        f"session {session_id!r} is held by run {busy.holder_run_id!r} {why}", session_id=session_id
    )
