"""The session management API, written once against a sync ``Connection``.

Ownership: reads see only the sessions of the ``owner`` given (another user's session reads as absent)
and writes to another user's session raise :class:`SessionOwnershipError` having changed nothing. The
owner is exact (None is the anonymous owner, SQL NULL); only :data:`~kern.db.records.ANY_USER` means
no owner filter (an administrator's view), which the public faces pass for ``user_id=None`` as in the
seeds. The runtime's claim (:func:`lock_or_create`) always takes an exact owner.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, bindparam, delete, select, true, update

from kern.db._sql.dialect import for_update, insert_ignore_statement, locked, lower
from kern.db._sql.rows import message_from_json, run_from_row, session_from_row
from kern.db._sql.tables import Tables
from kern.db.records import ANY_USER, Owner, OwnerFilter
from kern.exceptions import SessionOwnershipError, UsageError
from kern.models.message import Message
from kern.session.codec import encode_state
from kern.session.schema import RunRecord, Session, SessionType

SortBy = Literal["created_at", "updated_at"]
SortOrder = Literal["asc", "desc"]


def owner_filter(column: ColumnElement[Any], owner: OwnerFilter) -> ColumnElement[bool]:
    """The owner predicate: none for ANY_USER, else exactly ``owner`` (None: IS NULL).

    ``IS NULL`` and ``=`` (not ``IS NOT DISTINCT FROM``) so PostgreSQL can use the owner indexes.
    """
    if owner is ANY_USER:
        return true()
    return exact_owner(column, owner)


def exact_owner(column: ColumnElement[Any], owner: Owner) -> ColumnElement[bool]:
    """The runtime's owner predicate: rows of exactly ``owner``, the anonymous (NULL) owner for None."""
    return column.is_(None) if owner is None else column == owner


ID_LIMIT = 255
"""Longest session id, user id, component id and session name the tables hold (VARCHAR(255))."""


def fits(**values: str | None) -> None:
    """UsageError, before anything is written, for a value longer than its column holds."""
    for name, value in values.items():
        if value is not None and len(value) > ID_LIMIT:
            raise UsageError(f"{name} is {len(value)} characters long; the store holds at most {ID_LIMIT}")


def type_value(session_type: SessionType | str) -> str:
    """The stored spelling of a session type; UsageError naming the valid ones for anything else."""
    try:
        return SessionType(session_type).value
    except ValueError:
        valid = ", ".join(t.value for t in SessionType)
        raise UsageError(f"session_type must be one of {valid}, got {session_type!r}") from None


def get_session(
    conn: Connection, t: Tables, session_id: str, session_type: SessionType | None, owner: OwnerFilter
) -> Session | None:
    """One session with its messages and runs, or None when absent (or not ``owner``'s)."""
    stmt = select(t.sessions).where(t.sessions.c.session_id == session_id)
    stmt = stmt.where(owner_filter(t.sessions.c.user_id, owner))
    if session_type is not None:
        stmt = stmt.where(t.sessions.c.session_type == type_value(session_type))
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    runs = runs_of(conn, t, session_id, ANY_USER)  # the session's own runs: its owner was checked above
    return session_from_row(row, messages_of(conn, t, [session_id]).get(session_id, []), runs)


def get_sessions(
    conn: Connection,
    t: Tables,
    *,
    session_type: SessionType | None,
    owner: OwnerFilter,
    component_id: str | None,
    session_name: str | None,
    start_timestamp: int | None,
    end_timestamp: int | None,
    limit: int | None,
    page: int | None,
    sort_by: SortBy,
    sort_order: SortOrder,
) -> list[Session]:
    """Sessions matching every filter given, sorted and paged; messages loaded in one query, no runs."""
    stmt = select(t.sessions).where(owner_filter(t.sessions.c.user_id, owner))
    if session_type is not None:
        stmt = stmt.where(t.sessions.c.session_type == type_value(session_type))
    if component_id is not None:
        stmt = stmt.where(t.sessions.c.component_id == component_id)
    if session_name is not None:
        name = lower(conn, t.sessions.c.session_name)
        stmt = stmt.where(name.contains(session_name.lower(), autoescape=True))
    if start_timestamp is not None:
        stmt = stmt.where(t.sessions.c.created_at >= start_timestamp)
    if end_timestamp is not None:
        # whole seconds, as the API reports them: a session created at 12.7 was created "at 12"
        stmt = stmt.where(t.sessions.c.created_at < end_timestamp + 1)
    stmt = _sorted_page(stmt, t, sort_by=sort_by, sort_order=sort_order, limit=limit, page=page)
    rows = conn.execute(stmt).mappings().all()
    messages = messages_of(conn, t, [row["session_id"] for row in rows])
    return [session_from_row(row, messages.get(row["session_id"], [])) for row in rows]


def _sorted_page(
    stmt: Select[Any], t: Tables, *, sort_by: str, sort_order: str, limit: int | None, page: int | None
) -> Select[Any]:
    if sort_by not in ("created_at", "updated_at"):
        raise UsageError(f"sort_by must be 'created_at' or 'updated_at', got {sort_by!r}")
    if sort_order not in ("asc", "desc"):
        raise UsageError(f"sort_order must be 'asc' or 'desc', got {sort_order!r}")
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be a positive number, got {limit!r}")
    if page is not None and (limit is None or page < 1):
        raise UsageError(f"page={page!r} needs a limit and counts from 1")
    column, tiebreak = t.sessions.c[sort_by], t.sessions.c.session_id
    order = (column.desc(), tiebreak.desc()) if sort_order == "desc" else (column.asc(), tiebreak.asc())
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit).offset((page - 1) * limit if page else 0)
    return stmt


def messages_of(conn: Connection, t: Tables, session_ids: Sequence[str]) -> dict[str, list[Message]]:
    """The messages of several sessions in one query, in the order they were appended."""
    if not session_ids:
        return {}
    stmt = select(t.messages.c.session_id, t.messages.c.message).where(
        t.messages.c.session_id.in_(session_ids)
    )
    grouped: dict[str, list[Message]] = {}
    for session_id, data in conn.execute(stmt.order_by(t.messages.c.id)):
        grouped.setdefault(session_id, []).append(message_from_json(data))
    return grouped


def rename_session(
    conn: Connection,
    t: Tables,
    session_id: str,
    session_type: SessionType | None,
    session_name: str,
    owner: OwnerFilter,
) -> Session | None:
    """Give the session a new name; None when there is no such session of that type."""
    fits(session_name=session_name)
    if not _exists_for_write(conn, t, session_id, owner, session_type):
        return None
    conn.execute(
        update(t.sessions)
        .where(t.sessions.c.session_id == session_id)
        .values(session_name=session_name, updated_at=now())
    )
    return get_session(conn, t, session_id, session_type, owner)


def delete_session(conn: Connection, t: Tables, session_id: str, owner: OwnerFilter) -> bool:
    """Delete the session with its runs, messages and journal; False when there was none."""
    if not _exists_for_write(conn, t, session_id, owner, None):
        return False
    conn.execute(delete(t.sessions).where(t.sessions.c.session_id == session_id))
    return True


def delete_sessions(conn: Connection, t: Tables, session_ids: Sequence[str], owner: OwnerFilter) -> int:
    """Delete several sessions at once, all or none; returns how many existed."""
    ids = list(dict.fromkeys(session_ids))
    stmt = for_update(
        conn, select(t.sessions.c.session_id, t.sessions.c.user_id).where(t.sessions.c.session_id.in_(ids))
    )
    rows = conn.execute(stmt).all()
    for found_id, found_owner in rows:
        _check_owner(found_id, found_owner, owner)
    conn.execute(delete(t.sessions).where(t.sessions.c.session_id.in_(ids)))
    return len(rows)


def create_session(
    conn: Connection,
    t: Tables,
    *,
    session_id: str,
    session_type: SessionType,
    user_id: str | None,
    component_id: str | None,
    session_state: Mapping[str, Any],
    session_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[Session, bool]:
    """Create the session unless it exists; returns it and whether it was created.

    Unlike the management reads, ``user_id`` here is the exact owner: an existing session must belong
    to the same user (None included) and be of the same type.
    """
    row, created = lock_or_create(
        conn,
        t,
        session_id=session_id,
        session_type=session_type,
        user_id=user_id,
        component_id=component_id,
        session_state=session_state,
        session_name=session_name,
        metadata=metadata,
    )
    return session_from_row(row), created


def lock_or_create(
    conn: Connection,
    t: Tables,
    *,
    session_id: str,
    session_type: SessionType,
    user_id: str | None,
    component_id: str | None,
    session_state: Mapping[str, Any],
    session_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    lease: Mapping[str, Any] | None = None,
) -> tuple[RowMapping, bool]:
    """The session's row, locked for this transaction, inserted first if absent; and whether it was.

    The row must belong to ``user_id`` exactly (None included) and be of ``session_type``. ``lease``
    (``lease_owner``, ``lease_token``, ``lease_expires_at``) is set on a row inserted here.
    """
    fits(session_id=session_id, user_id=user_id, component_id=component_id, session_name=session_name)
    lock = _lock_session(t, conn.dialect.name)
    row = conn.execute(lock, {"b_session_id": session_id}).mappings().first()
    created = False
    if row is None:
        stamp = now()
        values = {
            "session_id": session_id,
            "session_type": type_value(session_type),
            "user_id": user_id,
            "component_id": component_id,
            "session_name": session_name,
            "session_state": encode_state(session_state),
            "session_metadata": encode_state(metadata or {}, root="metadata"),
            "version": 0,
            "lease_token": 0,
            "created_at": stamp,
            "updated_at": stamp,
            **(lease or {}),
        }
        insert = insert_ignore_statement(conn.dialect.name, t.sessions, ("session_id",))
        row = conn.execute(insert, values).mappings().first()  # the new row, locked by this transaction
        created = row is not None
        if row is None:  # created by another transaction since the lock's read: read it, locked
            row = conn.execute(lock, {"b_session_id": session_id}).mappings().one()
    _check_exact_owner(row, user_id)
    if row["session_type"] != type_value(session_type):
        raise UsageError(
            f"session {session_id!r} is a {row['session_type']} session; "
            f"a {type_value(session_type)} run cannot use it"
        )
    return row, created


@functools.cache
def _lock_session(t: Tables, dialect: str) -> Select[Any]:
    """SELECT the whole session row ``:b_session_id``, locked for the transaction."""
    return locked(dialect, select(t.sessions).where(t.sessions.c.session_id == bindparam("b_session_id")))


def runs_of(conn: Connection, t: Tables, session_id: str, owner: OwnerFilter) -> list[RunRecord]:
    """Every run of a session (of ``owner``'s), oldest first."""
    stmt = select(t.runs).where(t.runs.c.session_id == session_id, owner_filter(t.runs.c.user_id, owner))
    return [
        run_from_row(r) for r in conn.execute(stmt.order_by(t.runs.c.created_at, t.runs.c.run_id)).mappings()
    ]


def _exists_for_write(
    conn: Connection, t: Tables, session_id: str, owner: OwnerFilter, session_type: SessionType | None
) -> bool:
    """Lock the row and check its owner; False when the session (of that type) does not exist."""
    stmt = select(t.sessions.c.user_id, t.sessions.c.session_type).where(
        t.sessions.c.session_id == session_id
    )
    row = conn.execute(for_update(conn, stmt)).first()
    if row is None or (session_type is not None and row.session_type != type_value(session_type)):
        return False
    _check_owner(session_id, row.user_id, owner)
    return True


def _check_owner(session_id: str, found: str | None, owner: OwnerFilter) -> None:
    if owner is not ANY_USER and found != owner:
        raise SessionOwnershipError(
            f"session {session_id!r} belongs to another user than {owner!r}; nothing was changed",
            session_id=session_id,
        )


def _check_exact_owner(row: RowMapping, user_id: str | None) -> None:
    if row["user_id"] != user_id:
        raise SessionOwnershipError(
            f"session {row['session_id']!r} belongs to another user than {user_id!r}; nothing was written",
            session_id=row["session_id"],
        )


def now() -> float:
    """Unix time in seconds; the store's single clock."""
    return time.time()
