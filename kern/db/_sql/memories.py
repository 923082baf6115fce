"""User memories and session summaries: what outlives one run, written after the run's own commit.

Memories are rows keyed by ``memory_id`` and owned by a ``user_id``; every query carries the owner
predicate, and a write to a memory another user owns raises SessionOwnershipError and changes nothing.
The anonymous owner (a run without a user id) is SQL NULL, matched with ``IS NULL``: no user id a
caller can pass reaches its memories. Only the management API's ANY_USER reads or clears every user's.
A summary is one JSON value on the session row, written by its own short transaction (the run that
triggered it has committed and given the session up already).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, delete, func, select, update

from kern.db._sql.claims import completed_runs, messages_of_runs
from kern.db._sql.dialect import for_update
from kern.db._sql.rows import memory_from_row, summary_from_json, summary_to_json
from kern.db._sql.sessions import exact_owner, fits, now, owner_filter
from kern.db._sql.tables import Tables
from kern.db.records import ANY_USER, Owner, OwnerFilter
from kern.exceptions import SessionOwnershipError, UsageError
from kern.models.message import Message
from kern.session.schema import SessionSummary, UserMemory


def get_user_memories(
    conn: Connection, t: Tables, owner: OwnerFilter, limit: int | None = None
) -> list[UserMemory]:
    """The memories of ``owner`` (every user's for ANY_USER), oldest first (the last ``limit`` when set)."""
    stmt = select(t.memories).where(owner_filter(t.memories.c.user_id, owner))
    if limit is not None:
        newest = stmt.order_by(t.memories.c.updated_at.desc(), t.memories.c.memory_id.desc()).limit(limit)
        rows = list(conn.execute(newest).mappings())[::-1]
    else:
        rows = list(conn.execute(stmt.order_by(t.memories.c.created_at, t.memories.c.memory_id)).mappings())
    return [memory_from_row(row) for row in rows]


def upsert_user_memory(conn: Connection, t: Tables, memory: UserMemory) -> UserMemory:
    """Insert ``memory`` (a new id when it has none) or update the one with its id; returns it as stored.

    Updating a memory that another user owns raises SessionOwnershipError.
    """
    if not memory.memory.strip():
        raise UsageError("a memory needs some text")
    fits(user_id=memory.user_id, component_id=memory.component_id)
    stamp = now()
    memory_id = memory.memory_id or str(uuid.uuid4())
    existing = conn.execute(select(t.memories).where(t.memories.c.memory_id == memory_id)).mappings().first()
    values = {
        "memory": memory.memory,
        "topics": list(memory.topics),
        "input": memory.input,
        "component_id": memory.component_id,
        "updated_at": stamp,
    }
    if existing is None:
        insert_values = {**values, "memory_id": memory_id, "user_id": memory.user_id, "created_at": stamp}
        conn.execute(t.memories.insert().values(insert_values))
    else:
        _check_owner(memory_id, existing["user_id"], memory.user_id)
        conn.execute(update(t.memories).where(t.memories.c.memory_id == memory_id).values(values))
    row = conn.execute(select(t.memories).where(t.memories.c.memory_id == memory_id)).mappings().one()
    return memory_from_row(row)


def delete_user_memory(conn: Connection, t: Tables, memory_id: str, owner: OwnerFilter) -> bool:
    """Delete one memory; False if there is none. Raises SessionOwnershipError if another owner has it."""
    found = conn.execute(select(t.memories.c.user_id).where(t.memories.c.memory_id == memory_id)).first()
    if found is None:
        return False
    if owner is not ANY_USER:
        _check_owner(memory_id, found.user_id, owner)
    conn.execute(delete(t.memories).where(t.memories.c.memory_id == memory_id))
    return True


def clear_memories(conn: Connection, t: Tables, owner: OwnerFilter) -> int:
    """Delete the memories of ``owner`` (every memory for ANY_USER); returns how many there were."""
    where = owner_filter(t.memories.c.user_id, owner)
    count = conn.execute(select(func.count()).select_from(t.memories).where(where)).scalar_one()
    conn.execute(delete(t.memories).where(where))
    return int(count)


def get_summary(conn: Connection, t: Tables, session_id: str, owner: OwnerFilter) -> SessionSummary | None:
    """The session's summary; None if it has none, or there is no such session of ``owner``."""
    stmt = select(t.sessions.c.summary).where(
        t.sessions.c.session_id == session_id, owner_filter(t.sessions.c.user_id, owner)
    )
    return summary_from_json(conn.execute(stmt).scalar())


SUMMARY_INPUT_RUNS = 50
"""The most runs one summary update reads (the newest): a bound even after many failed updates."""


def summary_input(
    conn: Connection, t: Tables, session_id: str, user_id: Owner
) -> tuple[SessionSummary | None, list[Message], float | None]:
    """The session's summary (of exactly ``user_id``'s session), the messages of the completed top-level
    runs it does not cover yet (started after its ``last_run_at``; the newest :data:`SUMMARY_INPUT_RUNS`
    of them), oldest first, and the newest such run's start. One read: the summary and what follows it
    are consistent."""
    stmt = select(t.sessions.c.summary).where(
        t.sessions.c.session_id == session_id, exact_owner(t.sessions.c.user_id, user_id)
    )
    previous = summary_from_json(conn.execute(stmt).scalar())
    after = previous.last_run_at if previous is not None else None
    runs = completed_runs(t, session_id=session_id, user_id=user_id, after=after, limit=SUMMARY_INPUT_RUNS)
    picked = list(conn.execute(runs))
    if not picked:
        return previous, [], None
    messages = messages_of_runs(conn, t, [row.run_id for row in picked])
    return previous, messages, max(row.created_at for row in picked)


def set_summary(
    conn: Connection,
    t: Tables,
    session_id: str,
    user_id: Owner,
    summary: SessionSummary,
    replaces: float | None,
) -> bool:
    """Store ``summary`` if the stored one is still the one it was made from (its ``last_run_at`` is
    ``replaces``); False if not (another update won: the runs it missed are in the next one's input).

    Raises SessionOwnershipError if the session is not owned by exactly ``user_id``.
    """
    row = conn.execute(
        for_update(
            conn,
            select(t.sessions.c.user_id, t.sessions.c.summary).where(t.sessions.c.session_id == session_id),
        )
    ).first()
    if row is None:
        return False
    if row.user_id != user_id:
        raise SessionOwnershipError(
            f"session {session_id!r} belongs to another user than {user_id!r}; its summary was not written",
            session_id=session_id,
        )
    stored = summary_from_json(row.summary)
    if (stored.last_run_at if stored is not None else None) != replaces:
        return False
    conn.execute(
        update(t.sessions)
        .where(t.sessions.c.session_id == session_id)
        .values(summary=summary_to_json(summary), updated_at=now())
    )
    return True


def _check_owner(memory_id: str, found: str | None, owner: Owner) -> None:
    if found != owner:
        raise SessionOwnershipError(
            f"memory {memory_id!r} belongs to another user than {owner!r}; nothing was changed"
        )
