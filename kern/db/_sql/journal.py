"""The workflow journal: one row per step of a run, written when the step ends (and, for a condition,
loop or router, when it decides which children run; a step's start is not written).

Rows are written inside the run's commits (kern.db._sql.claims.commit), so a step's output and the
state changes it made land in one transaction, fenced by the run's claim. Reading the journal back is
what lets a resumed run skip the steps that completed and replay the decisions it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from kern.db._sql.dialect import upsert_statement
from kern.db._sql.rows import run_from_row
from kern.db._sql.sessions import owner_filter
from kern.db._sql.tables import Tables
from kern.db.records import Claim, Owner, OwnerFilter
from kern.exceptions import SessionOwnershipError
from kern.session.codec import decode, encode
from kern.session.schema import RunRecord, StepRecord
from kern.session.status import StepStatus

_UPDATE_COLUMNS = (
    "step_name",
    "status",
    "output",
    "state_patch",
    "decision",
    "error",
    "attempt",
    "finished_at",
)


def write_steps(conn: Connection, t: Tables, claim: Claim, steps: Sequence[StepRecord]) -> None:
    """Insert or update the journal rows of ``steps`` (keyed by run id and step path)."""
    for step in steps:
        values: dict[str, Any] = {
            "run_id": step.run_id,
            "step_path": step.step_path,
            "session_id": claim.session_id,
            "step_name": step.step_name,
            "status": StepStatus(step.status).value,
            "output": encode(step.output, path=f"step {step.step_path}.output"),
            "state_patch": step.state_patch,
            "decision": encode(step.decision, path=f"step {step.step_path}.decision"),
            "error": step.error,
            "attempt": step.attempt,
            "started_at": step.started_at,
            "finished_at": step.finished_at,
        }
        stmt = upsert_statement(conn.dialect.name, t.workflow_steps, ("run_id", "step_path"), _UPDATE_COLUMNS)
        conn.execute(stmt, values)


def read_journal(
    conn: Connection, t: Tables, run_id: str, owner: OwnerFilter
) -> tuple[RunRecord, list[StepRecord]] | None:
    """The run ``run_id`` with its journal rows (in the order they started); None if there is no such run
    of ``owner`` (ANY_USER: of anyone; the management API's read)."""
    stmt = select(t.runs).where(t.runs.c.run_id == run_id, owner_filter(t.runs.c.user_id, owner))
    row = conn.execute(stmt).mappings().first()
    return (run_from_row(row), _steps(conn, t, run_id)) if row is not None else None


def journal_of(
    conn: Connection, t: Tables, run_id: str, user_id: Owner
) -> tuple[RunRecord, list[StepRecord]] | None:
    """What a resume of ``run_id`` by exactly ``user_id`` (None: the anonymous owner) reads: the run and
    its journal rows; None if there is no such run.

    A run whose session another owner holds raises SessionOwnershipError, as a run on that session
    would: a resume never reads (let alone continues) another user's run.
    """
    stmt = (
        select(t.runs, t.sessions.c.user_id.label("session_owner"))
        .join(t.sessions, t.sessions.c.session_id == t.runs.c.session_id)
        .where(t.runs.c.run_id == run_id)
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    if row["session_owner"] != user_id or row["user_id"] != user_id:
        raise SessionOwnershipError(
            f"run {run_id!r} is on session {row['session_id']!r}, which belongs to another user than "
            f"{user_id!r}; nothing was resumed",
            session_id=row["session_id"],
        )
    return run_from_row(row), _steps(conn, t, run_id)


def _steps(conn: Connection, t: Tables, run_id: str) -> list[StepRecord]:
    rows = conn.execute(
        select(t.workflow_steps)
        .where(t.workflow_steps.c.run_id == run_id)
        .order_by(t.workflow_steps.c.started_at, t.workflow_steps.c.step_path)
    ).mappings()
    return [_step_from_row(step) for step in rows]


def _step_from_row(row: Any) -> StepRecord:
    return StepRecord(
        run_id=row["run_id"],
        step_path=row["step_path"],
        step_name=row["step_name"] or "",
        status=StepStatus(row["status"]),
        output=decode(row["output"]),
        decision=decode(row["decision"]),
        state_patch=row["state_patch"],
        error=row["error"],
        attempt=row["attempt"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )
