"""Claim, renew, release and commit: how runs take turns on a session and persist what they did.

A claim is a lease stored on the session row (owner run id, expiry, fencing token), never a transaction:
runs hold it across model calls while every database transaction stays short. A commit applies the
run's state *changes* to the current stored state, upserts its run rows and appends its messages, all
in one transaction that first re-checks the fencing token, so a writer whose lease was taken over can
never overwrite its successor.

Every statement here is built once per store and dialect (:class:`_Statements`) and executed with bound
parameters: building a statement costs more than running it. The fence is the WHERE clause of a
commit's first statement: the write itself, or the locked read of the state a patch applies to.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Insert, Select, Update, bindparam, insert, select, true, update
from sqlalchemy.sql.elements import BindParameter

from kern.db._sql.dialect import locked, upsert_statement
from kern.db._sql.journal import write_steps
from kern.db._sql.rows import message_from_json, run_from_row
from kern.db._sql.sessions import fits, lock_or_create, now, session_from_row, type_value
from kern.db._sql.tables import Tables
from kern.db.records import Busy, Claim, Replay, RunWrite
from kern.exceptions import ClaimLostError, UsageError, WorkflowError
from kern.models.message import Message
from kern.session.codec import encode
from kern.session.patch import PatchOp, apply_patch
from kern.session.schema import SessionType, StepRecord
from kern.session.status import RunStatus

RUN_UPDATE_COLUMNS = ("status", "output", "metrics", "error", "updated_at", "fence_token")


def _param(column: Column[Any], prefix: str = "v_") -> BindParameter[Any]:
    """A bound parameter of ``column``'s type, named ``{prefix}{column name}``."""
    return bindparam(prefix + column.name, type_=column.type)


@dataclass(frozen=True, slots=True)
class _Statements:
    """The hot path's statements of one store on one dialect, built once and executed with parameters.

    Parameters: ``b_*`` are the WHERE clauses' (``b_session_id``, ``b_owner`` and ``b_lease_token`` for
    the fence, see :func:`_fence`), ``v_*`` the values written. A fenced statement's row count (or its
    RETURNING row) says whether the fence held.
    """

    take_free_lease: Update
    take_lease: Update
    mark_left_running: Update
    release_left_running: Update
    renew: Update
    release: Update
    bump: Update
    bump_release: Update
    held_version: Select[Any]
    held_state: Select[Any]
    set_state: Update
    set_state_release: Update
    insert_run: Insert
    update_run: Update
    resume_run: Update
    upsert_run: Insert
    insert_messages: Insert
    same_key: Select[Any]
    drop_key: Update
    replayed_messages: Select[Any]


@functools.cache
def _statements(t: Tables, dialect: str) -> _Statements:
    """The statements of ``t`` on ``dialect``, built on first use."""
    s, r = t.sessions.c, t.runs.c
    held = (
        s.session_id == _param(s.session_id, "b_"),
        s.lease_owner == bindparam("b_owner", type_=s.lease_owner.type),
        s.lease_token == _param(s.lease_token, "b_"),
    )
    session = s.session_id == _param(s.session_id, "b_")
    sessions = update(t.sessions)
    left_running = update(t.runs).where(
        r.session_id == _param(r.session_id, "b_"),
        r.fence_token == _param(r.fence_token, "b_"),
        r.status == RunStatus.running.value,
    )
    left = {"status": _param(r.status), "updated_at": _param(r.updated_at)}
    bump = {
        "version": s.version + 1,
        "updated_at": _param(s.updated_at),
        "lease_expires_at": _param(s.lease_expires_at),
    }
    state = {
        "session_state": _param(s.session_state),
        "version": _param(s.version),
        "updated_at": _param(s.updated_at),
        "lease_expires_at": _param(s.lease_expires_at),
    }
    released = {"lease_owner": None}
    run = update(t.runs).where(r.run_id == _param(r.run_id, "b_"), r.session_id == _param(r.session_id, "b_"))
    run_changes = {c: _param(r[c]) for c in RUN_UPDATE_COLUMNS}
    same_key = (
        r.session_id == _param(r.session_id, "b_"),
        r.idempotency_key == _param(r.idempotency_key, "b_"),
    )
    upsert = upsert_statement(dialect, t.runs, ("run_id",), RUN_UPDATE_COLUMNS, ("session_id",))
    m = t.messages.c
    return _Statements(
        take_free_lease=sessions.where(
            session,
            s.lease_owner.is_(None),
            s.user_id.is_not_distinct_from(_param(s.user_id, "b_")),
            s.session_type == _param(s.session_type, "b_"),
        )
        .values(
            lease_owner=_param(s.lease_owner),
            lease_token=s.lease_token + 1,
            lease_expires_at=_param(s.lease_expires_at),
        )
        .returning(*t.sessions.c),
        take_lease=sessions.where(session).values(
            lease_owner=_param(s.lease_owner),
            lease_token=_param(s.lease_token),
            lease_expires_at=_param(s.lease_expires_at),
        ),
        mark_left_running=left_running.values(left),
        release_left_running=left_running.values({**left, "error": _param(r.error)}),
        renew=sessions.where(*held).values(lease_expires_at=_param(s.lease_expires_at)),
        release=sessions.where(*held).values(lease_owner=None, lease_expires_at=None),
        bump=sessions.where(*held).values(bump).returning(s.version),
        bump_release=sessions.where(*held).values({**bump, **released}).returning(s.version),
        held_version=locked(dialect, select(s.version).where(*held)),
        held_state=locked(dialect, select(s.session_state, s.version).where(*held)),
        set_state=sessions.where(session).values(state),
        set_state_release=sessions.where(session).values({**state, **released}),
        insert_run=insert(t.runs),
        update_run=run.values(run_changes),
        resume_run=run.where(r.status != RunStatus.completed.value).values(run_changes),
        upsert_run=upsert.returning(r.run_id),
        insert_messages=insert(t.messages),
        same_key=select(t.runs).where(*same_key),
        drop_key=update(t.runs).where(*same_key).values(idempotency_key=None),
        replayed_messages=select(m.message).where(m.run_id == _param(m.run_id, "b_")).order_by(m.seq),
    )


def try_claim(
    conn: Connection,
    t: Tables,
    *,
    session_id: str,
    session_type: SessionType,
    user_id: str | None,
    component_id: str | None,
    run_id: str,
    initial_state: Mapping[str, Any],
    lease_seconds: float,
    start: RunWrite | None = None,
) -> Claim | Busy | Replay:
    """Create the session if needed and lease it to ``run_id``, or say who holds it.

    A holder whose lease expired is taken over: the runs it left ``running`` (its own and its members',
    the rows written under its fencing token) are marked ``abandoned`` in the same transaction.
    ``start`` (the run's row and first messages) is written in that transaction too, once the lease is won.
    When ``start`` carries an idempotency key that a completed run of the session already has, that run
    is returned as a Replay and nothing is claimed; a run with the key that did not complete gives it up.

    The usual case is one statement: the UPDATE that takes a free lease of a session of this owner and
    type (without an idempotency key to look up first). When it finds no such row, the row is read
    (locked) or inserted, already leased, and the reason is worked out from it: busy, expired (taken
    over), another owner or type (raised), or absent (created).
    """
    fits(session_id=session_id, user_id=user_id, component_id=component_id)
    sql = _statements(t, conn.dialect.name)
    stamp = now()
    expires_at = stamp + lease_seconds
    key = start.run.idempotency_key if start is not None else None
    row: Any = None
    if key is None:
        lease = {
            "b_session_id": session_id,
            "b_user_id": user_id,
            "b_session_type": type_value(session_type),
            "v_lease_owner": run_id,
            "v_lease_expires_at": expires_at,
        }
        row = conn.execute(sql.take_free_lease, lease).mappings().first()
    if row is not None:
        claim = _claim(row, run_id, user_id, lease_seconds, created=False, abandoned=None)
    else:
        claim = _claim_slow(
            conn,
            t,
            sql,
            session_id=session_id,
            session_type=session_type,
            user_id=user_id,
            component_id=component_id,
            run_id=run_id,
            initial_state=initial_state,
            lease_seconds=lease_seconds,
            stamp=stamp,
            key=key,
        )
        if not isinstance(claim, Claim):
            return claim
    if start is not None:
        _write_run(conn, sql, claim, start, stamp)
    return claim


def _claim(
    row: Any, run_id: str, user_id: str | None, lease_seconds: float, *, created: bool, abandoned: str | None
) -> Claim:
    """The claim a session row leased to ``run_id`` stands for."""
    return Claim(
        session_id=row["session_id"],
        run_id=run_id,
        user_id=user_id,
        token=row["lease_token"],
        expires_at=row["lease_expires_at"],
        lease_seconds=lease_seconds,
        session=session_from_row(row),
        state_snapshot=row["session_state"],
        created=created,
        abandoned_run_id=abandoned,
    )


def _claim_slow(
    conn: Connection,
    t: Tables,
    sql: _Statements,
    *,
    session_id: str,
    session_type: SessionType,
    user_id: str | None,
    component_id: str | None,
    run_id: str,
    initial_state: Mapping[str, Any],
    lease_seconds: float,
    stamp: float,
    key: str | None,
) -> Claim | Busy | Replay:
    """:func:`try_claim` when the lease was not free to take in one statement, or a key is to be looked up."""
    expires_at = stamp + lease_seconds
    row, created = lock_or_create(
        conn,
        t,
        session_id=session_id,
        session_type=session_type,
        user_id=user_id,
        component_id=component_id,
        session_state=initial_state,
        lease={"lease_owner": run_id, "lease_token": 1, "lease_expires_at": expires_at},
    )
    if created:  # inserted already leased to this run; a new session has no run to replay
        return _claim(row, run_id, user_id, lease_seconds, created=True, abandoned=None)
    owner, expiry = row["lease_owner"], row["lease_expires_at"]
    if owner is not None and expiry > stamp:  # a resumed run waits for its dead self's lease too
        return Busy(holder_run_id=owner, expires_at=expiry)
    abandoned = owner if owner not in (None, run_id) else None
    if owner is not None:  # expired; a resume taking over its dead self sets its own row running below
        conn.execute(
            sql.mark_left_running,
            {
                "b_session_id": session_id,
                "b_fence_token": row["lease_token"],
                "v_status": RunStatus.abandoned.value,
                "v_updated_at": stamp,
            },
        )
    if key is not None and (replay := _replay(conn, sql, row, key)) is not None:
        return replay
    token = row["lease_token"] + 1
    conn.execute(
        sql.take_lease,
        {
            "b_session_id": session_id,
            "v_lease_owner": run_id,
            "v_lease_token": token,
            "v_lease_expires_at": expires_at,
        },
    )
    return Claim(
        session_id=session_id,
        run_id=run_id,
        user_id=user_id,
        token=token,
        expires_at=expires_at,
        lease_seconds=lease_seconds,
        session=session_from_row(row),
        state_snapshot=row["session_state"],
        created=False,
        abandoned_run_id=abandoned,
    )


def _replay(conn: Connection, sql: _Statements, row: Any, key: str) -> Replay | None:
    """The completed run of this session with ``key``; a run with it that did not complete releases it."""
    same_key = {"b_session_id": row["session_id"], "b_idempotency_key": key}
    earlier = conn.execute(sql.same_key, same_key).mappings().first()
    if earlier is None:
        return None
    if earlier["status"] != RunStatus.completed.value:
        conn.execute(sql.drop_key, same_key)
        return None
    found = conn.execute(sql.replayed_messages, {"b_run_id": earlier["run_id"]}).scalars()
    messages = [message_from_json(m) for m in found]
    return Replay(run=run_from_row(earlier), messages=messages, session=session_from_row(row))


def renew(conn: Connection, t: Tables, claim: Claim, lease_seconds: float) -> float:
    """Extend the lease to now + ``lease_seconds``; raises ClaimLostError after a takeover."""
    expires_at = now() + lease_seconds
    result = conn.execute(
        _statements(t, conn.dialect.name).renew, {**_fence(claim), "v_lease_expires_at": expires_at}
    )
    if result.rowcount != 1:
        raise _lost(claim)
    return expires_at


RELEASED_WITHOUT_ENDING = "the run gave its session up without recording how it ended"
"""The error a released run's row gets when the release is not told why the run ended."""


def release(
    conn: Connection,
    t: Tables,
    claim: Claim,
    *,
    status: RunStatus = RunStatus.error,
    error: str | None = None,
) -> bool:
    """Give the session up; False when the claim had already been taken over.

    A run that releases its claim instead of ending in a final commit failed to record itself (a
    run's final commit releases the claim in its own transaction, and so does a pause): the rows it
    left ``running`` (its own, and its members' written under its fencing token) get ``status``
    (error, or cancelled) and ``error`` in this transaction, so no row stays ``running`` once nobody
    holds the session. Fenced: after a takeover the new holder's claim already marked them abandoned,
    and nothing is written here.
    """
    if status not in (RunStatus.error, RunStatus.cancelled):
        raise UsageError(f"a released run ends as error or cancelled, not {RunStatus(status).value}")
    sql = _statements(t, conn.dialect.name)
    if conn.execute(sql.release, _fence(claim)).rowcount != 1:
        return False
    conn.execute(
        sql.release_left_running,
        {
            "b_session_id": claim.session_id,
            "b_fence_token": claim.token,
            "v_status": status.value,
            "v_error": error or RELEASED_WITHOUT_ENDING,
            "v_updated_at": now(),
        },
    )
    return True


def commit(
    conn: Connection,
    t: Tables,
    claim: Claim,
    *,
    state_patch: Sequence[PatchOp],
    writes: Sequence[RunWrite],
    lease_seconds: float,
    release: bool = False,
    steps: Sequence[StepRecord] = (),
) -> int:
    """Apply state changes, upsert runs, append messages and write journal rows in one transaction.

    Returns the session's new version. With ``release`` the claim is given up in the same transaction
    (a run's final commit).

    The fence (this run still owns the lease under its token) is the WHERE clause of the commit's first
    statement: the UPDATE of the session row, whose RETURNING row says it held, when the commit has no
    state patch; the locked read of the current state the patch applies to when it has one. A commit
    that carries only journal rows (a step starting, a decision) reads the version, fenced and locked,
    and leaves the row as it is.
    """
    sql = _statements(t, conn.dialect.name)
    stamp = now()
    fence = _fence(claim)
    expires_at = None if release else stamp + lease_seconds
    if state_patch:
        row = conn.execute(sql.held_state, fence).first()
        if row is None:
            raise _lost(claim)
        version = row.version + 1
        values = {
            "b_session_id": claim.session_id,
            "v_session_state": apply_patch(row.session_state, state_patch),
            "v_version": version,
            "v_updated_at": stamp,
            "v_lease_expires_at": expires_at,
        }
        conn.execute(sql.set_state_release if release else sql.set_state, values)
    else:
        if writes or release:
            bump = sql.bump_release if release else sql.bump
            found = conn.execute(bump, {**fence, "v_updated_at": stamp, "v_lease_expires_at": expires_at})
        else:  # a journal-only commit (a step starting) leaves the row as it is
            found = conn.execute(sql.held_version, fence)
        version = found.scalar()
        if version is None:
            raise _lost(claim)
    for write in writes:
        _write_run(conn, sql, claim, write, stamp)
    write_steps(conn, t, claim, steps)
    return version


def history(
    conn: Connection,
    t: Tables,
    *,
    session_id: str,
    user_id: str | None,
    num_runs: int | None,
    after: float | None = None,
) -> list[Message]:
    """Messages of the last ``num_runs`` completed top-level runs (all when None), oldest first; with
    ``after``, of runs started after that time only.

    Reads only the runs asked for: one query, the run ids a ``LIMIT`` on an index away.
    """
    if num_runs is not None and num_runs < 0:
        raise UsageError(f"num_runs counts runs and cannot be negative, got {num_runs}")
    params = {"b_session_id": session_id, "b_user_id": user_id, "b_after": after, "b_limit": num_runs}
    stmt = _history_statement(t, after is not None, num_runs is not None)
    return [message_from_json(m) for m in conn.execute(stmt, params).scalars()]


@functools.cache
def _history_statement(t: Tables, after: bool, limit: bool) -> Select[Any]:
    """:func:`history`'s query, with ``after`` and ``limit`` as parameters when they are given."""
    r = t.runs.c
    runs = _completed_runs(
        t,
        session_id=_param(r.session_id, "b_"),
        user_id=_param(r.user_id, "b_"),
        after=bindparam("b_after", type_=r.created_at.type) if after else None,
        limit=bindparam("b_limit") if limit else None,
    )
    return _messages_of_runs(t, runs.with_only_columns(r.run_id).scalar_subquery())


def completed_runs(
    t: Tables, *, session_id: str, user_id: str | None, after: float | None, limit: int | None
) -> Select[str, float]:
    """The ids and starts of a session's completed top-level runs (of its exact owner), newest first:
    the last ``limit`` of them (all when None), only those started after ``after`` when given."""
    return _completed_runs(t, session_id=session_id, user_id=user_id, after=after, limit=limit)


def _completed_runs(
    t: Tables, *, session_id: Any, user_id: Any, after: Any, limit: Any
) -> Select[str, float]:
    """:func:`completed_runs` of values or bound parameters."""
    return (
        select(t.runs.c.run_id, t.runs.c.created_at)
        .where(
            t.runs.c.session_id == session_id,
            t.runs.c.user_id.is_not_distinct_from(user_id),
            t.runs.c.parent_run_id.is_(None),
            t.runs.c.status == RunStatus.completed.value,
            t.runs.c.created_at > after if after is not None else true(),
        )
        .order_by(t.runs.c.created_at.desc(), t.runs.c.run_id.desc())
        .limit(limit)
    )


def messages_of_runs(conn: Connection, t: Tables, run_ids: Any) -> list[Message]:
    """The non-system messages of the runs ``run_ids`` (a list, or a subquery of ids), oldest first."""
    return [message_from_json(m) for m in conn.execute(_messages_of_runs(t, run_ids)).scalars()]


def _messages_of_runs(t: Tables, run_ids: Any) -> Select[Any]:
    m = t.messages.c
    return select(m.message).where(m.run_id.in_(run_ids), m.role != "system").order_by(m.id)


def _write_run(conn: Connection, sql: _Statements, claim: Claim, write: RunWrite, stamp: float) -> None:
    run = write.run
    values = {
        "run_id": run.run_id,
        "session_id": claim.session_id,
        "user_id": claim.user_id,
        "component_id": run.component_id,
        "parent_run_id": run.parent_run_id,
        "status": RunStatus(run.status).value,
        "input": encode(run.input, path="run.input"),
        "output": encode(run.output, path="run.output"),
        "metrics": encode(run.metrics, path="run.metrics"),
        "error": run.error,
        "idempotency_key": run.idempotency_key,
        "fence_token": claim.token,
        "created_at": run.created_at or stamp,
        "updated_at": stamp,
    }
    if write.mode == "insert":
        conn.execute(sql.insert_run, values)
        written = True
    elif write.mode in ("update", "resume"):
        changes = {f"v_{column}": values[column] for column in RUN_UPDATE_COLUMNS}
        changes["b_run_id"], changes["b_session_id"] = run.run_id, claim.session_id
        stmt = sql.resume_run if write.mode == "resume" else sql.update_run
        written = conn.execute(stmt, changes).rowcount == 1
        if not written and write.mode == "resume":
            raise WorkflowError(f"run {run.run_id!r} completed; there is nothing to resume")
    else:  # upsert: the existing row is updated only if it is a run of this session
        written = conn.execute(sql.upsert_run, values).first() is not None
    if not written:
        raise UsageError(
            f"run {run.run_id!r} is not a run of session {claim.session_id!r}; nothing was written"
        )
    if write.messages:
        rows = [
            {
                "session_id": claim.session_id,
                "run_id": run.run_id,
                "user_id": claim.user_id,
                "seq": write.first_seq + i,
                "role": message.role,
                "message": encode(message.to_record(), path="message"),  # a NUL in text: tagged
                "created_at": stamp,
            }
            for i, message in enumerate(write.messages)
        ]
        conn.execute(sql.insert_messages, rows)


def _fence(claim: Claim) -> dict[str, Any]:
    """The fence's parameters: the claim's session, run and token."""
    return {"b_session_id": claim.session_id, "b_owner": claim.run_id, "b_lease_token": claim.token}


def _lost(claim: Claim) -> ClaimLostError:
    return ClaimLostError(
        f"run {claim.run_id!r} lost its claim on session {claim.session_id!r} (another run took it over "
        "after the lease expired); its writes were refused",
        session_id=claim.session_id,
    )
