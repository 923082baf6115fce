"""Claim, renew, release and commit: how runs take turns on a session and persist what they did.

A claim is a lease stored on the session row (owner run id, expiry, fencing token), never a transaction:
runs hold it across model calls while every database transaction stays short. A commit applies the
run's state *changes* to the current stored state, upserts its run rows and appends its messages, all
in one transaction that first re-checks the fencing token, so a writer whose lease was taken over can
never overwrite its successor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, insert, select, true, update

from kern.db._sql.dialect import for_update, upsert
from kern.db._sql.journal import write_steps
from kern.db._sql.rows import message_from_json, run_from_row
from kern.db._sql.sessions import lock_or_create, now, session_from_row
from kern.db._sql.tables import Tables
from kern.db.records import Busy, Claim, Replay, RunWrite
from kern.exceptions import ClaimLostError, UsageError, WorkflowError
from kern.models.message import Message
from kern.session.codec import encode
from kern.session.patch import PatchOp, apply_patch
from kern.session.schema import SessionType, StepRecord
from kern.session.status import RunStatus

RUN_UPDATE_COLUMNS = ("status", "output", "metrics", "error", "updated_at", "fence_token")


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
    """
    row, created = lock_or_create(
        conn,
        t,
        session_id=session_id,
        session_type=session_type,
        user_id=user_id,
        component_id=component_id,
        session_state=initial_state,
    )
    owner, expiry = row["lease_owner"], row["lease_expires_at"]
    stamp = now()
    if owner is not None and expiry > stamp:  # a resumed run waits for its dead self's lease too
        return Busy(holder_run_id=owner, expires_at=expiry)
    abandoned = owner if owner not in (None, run_id) else None
    if owner is not None:  # expired; a resume taking over its dead self sets its own row running below
        conn.execute(
            _left_running(t, session_id, row["lease_token"]).values(
                status=RunStatus.abandoned.value, updated_at=stamp
            )
        )
    key = start.run.idempotency_key if start is not None else None
    if key is not None and (replay := _replay(conn, t, row, key)) is not None:
        return replay
    token, expires_at = row["lease_token"] + 1, stamp + lease_seconds
    conn.execute(
        update(t.sessions)
        .where(t.sessions.c.session_id == session_id)
        .values(lease_owner=run_id, lease_token=token, lease_expires_at=expires_at)
    )
    claim = Claim(
        session_id=session_id,
        run_id=run_id,
        user_id=user_id,
        token=token,
        expires_at=expires_at,
        lease_seconds=lease_seconds,
        session=session_from_row(row),
        state_snapshot=row["session_state"],
        created=created,
        abandoned_run_id=abandoned,
    )
    if start is not None:
        _write_run(conn, t, claim, start, stamp)
    return claim


def _replay(conn: Connection, t: Tables, row: Any, key: str) -> Replay | None:
    """The completed run of this session with ``key``; a run with it that did not complete releases it."""
    session_id = row["session_id"]
    same_key = (t.runs.c.session_id == session_id) & (t.runs.c.idempotency_key == key)
    earlier = conn.execute(select(t.runs).where(same_key)).mappings().first()
    if earlier is None:
        return None
    if earlier["status"] != RunStatus.completed.value:
        conn.execute(update(t.runs).where(same_key).values(idempotency_key=None))
        return None
    stmt = (
        select(t.messages.c.message)
        .where(t.messages.c.run_id == earlier["run_id"])
        .order_by(t.messages.c.seq)
    )
    messages = [message_from_json(m) for m in conn.execute(stmt).scalars()]
    return Replay(run=run_from_row(earlier), messages=messages, session=session_from_row(row))


def renew(conn: Connection, t: Tables, claim: Claim, lease_seconds: float) -> float:
    """Extend the lease to now + ``lease_seconds``; raises ClaimLostError after a takeover."""
    expires_at = now() + lease_seconds
    result = conn.execute(_held(t, claim, update(t.sessions)).values(lease_expires_at=expires_at))
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
    result = conn.execute(_held(t, claim, update(t.sessions)).values(lease_owner=None, lease_expires_at=None))
    if result.rowcount != 1:
        return False
    conn.execute(
        _left_running(t, claim.session_id, claim.token).values(
            status=status.value, error=error or RELEASED_WITHOUT_ENDING, updated_at=now()
        )
    )
    return True


def _left_running(t: Tables, session_id: str, token: int) -> Any:
    """UPDATE of the session's runs still ``running`` that were written under the claim ``token``."""
    return update(t.runs).where(
        t.runs.c.session_id == session_id,
        t.runs.c.fence_token == token,
        t.runs.c.status == RunStatus.running.value,
    )


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
    """
    stmt = select(
        t.sessions.c.session_state, t.sessions.c.version, t.sessions.c.lease_owner, t.sessions.c.lease_token
    )
    row = conn.execute(for_update(conn, stmt.where(t.sessions.c.session_id == claim.session_id))).first()
    if row is None or row.lease_owner != claim.run_id or row.lease_token != claim.token:
        raise _lost(claim)
    stamp = now()
    values: dict[str, Any] = {
        "version": row.version + 1,
        "updated_at": stamp,
        "lease_expires_at": None if release else stamp + lease_seconds,
    }
    if release:
        values["lease_owner"] = None
    if state_patch:
        values["session_state"] = apply_patch(row.session_state, state_patch)
    changed = bool(state_patch or writes or release)  # a journal-only commit (a step starting) leaves the row
    if changed:
        conn.execute(update(t.sessions).where(t.sessions.c.session_id == claim.session_id).values(values))
    for write in writes:
        _write_run(conn, t, claim, write, stamp)
    write_steps(conn, t, claim, steps)
    return row.version + 1 if changed else row.version


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
    runs = completed_runs(t, session_id=session_id, user_id=user_id, after=after, limit=num_runs)
    return messages_of_runs(conn, t, runs.with_only_columns(t.runs.c.run_id).scalar_subquery())


def completed_runs(
    t: Tables, *, session_id: str, user_id: str | None, after: float | None, limit: int | None
) -> Select[str, float]:
    """The ids and starts of a session's completed top-level runs (of its exact owner), newest first:
    the last ``limit`` of them (all when None), only those started after ``after`` when given."""
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
    stmt = select(t.messages.c.message).where(t.messages.c.run_id.in_(run_ids), t.messages.c.role != "system")
    return [message_from_json(m) for m in conn.execute(stmt.order_by(t.messages.c.id)).scalars()]


def _write_run(conn: Connection, t: Tables, claim: Claim, write: RunWrite, stamp: float) -> None:
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
    same_session = t.runs.c.session_id == claim.session_id
    if write.mode == "insert":
        conn.execute(insert(t.runs).values(values))
        written = True
    elif write.mode in ("update", "resume"):
        changes = {column: values[column] for column in RUN_UPDATE_COLUMNS}
        stmt = update(t.runs).where(t.runs.c.run_id == run.run_id, same_session)
        if write.mode == "resume":
            stmt = stmt.where(t.runs.c.status != RunStatus.completed.value)
        written = conn.execute(stmt.values(changes)).rowcount == 1
        if not written and write.mode == "resume":
            raise WorkflowError(f"run {run.run_id!r} completed; there is nothing to resume")
    else:
        stmt = upsert(conn, t.runs, values, ["run_id"], RUN_UPDATE_COLUMNS, where=same_session)
        written = conn.execute(stmt.returning(t.runs.c.run_id)).first() is not None
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
        conn.execute(insert(t.messages), rows)


def _held(t: Tables, claim: Claim, stmt: Any) -> Any:
    return stmt.where(
        t.sessions.c.session_id == claim.session_id,
        t.sessions.c.lease_owner == claim.run_id,
        t.sessions.c.lease_token == claim.token,
    )


def _lost(claim: Claim) -> ClaimLostError:
    return ClaimLostError(
        f"run {claim.run_id!r} lost its claim on session {claim.session_id!r} (another run took it over "
        "after the lease expired); its writes were refused",
        session_id=claim.session_id,
    )
