"""Turning stored rows into the session, run and message objects the API returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import RowMapping

from kern.exceptions import StorageError
from kern.models.message import Message
from kern.session.codec import decode
from kern.session.schema import SESSION_CLASSES, RunRecord, Session, SessionSummary, SessionType, UserMemory
from kern.session.status import RunStatus


def session_from_row(
    row: RowMapping,
    messages: Iterable[Message] = (),
    runs: Iterable[RunRecord] = (),
) -> Session:
    """A typed Session (AgentSession, TeamSession, WorkflowSession) from a sessions row."""
    session_type = SessionType(row["session_type"])
    state = _decoded_dict(row["session_state"], "session_state")
    metadata = _decoded_dict(row["session_metadata"], "session_metadata")
    return SESSION_CLASSES[session_type](
        session_id=row["session_id"],
        session_type=session_type,
        user_id=row["user_id"],
        component_id=row["component_id"],
        session_name=row["session_name"],
        session_state=state,
        summary=summary_from_json(row["summary"]),
        metadata=metadata,
        messages=list(messages),
        runs=list(runs),
        version=row["version"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


def _decoded_dict(data: Any, column: str) -> dict[str, Any]:
    value = decode(data)
    if not isinstance(value, dict):
        raise StorageError(f"stored {column} is not a JSON object: {type(value).__name__}")
    return cast(dict[str, Any], value)


def summary_from_json(data: Any) -> SessionSummary | None:
    """The stored summary, or None."""
    if data is None:
        return None
    return SessionSummary(
        summary=data["summary"],
        topics=list(data.get("topics", [])),
        updated_at=data.get("updated_at"),
        last_run_at=data.get("last_run_at"),
    )


def summary_to_json(summary: SessionSummary) -> dict[str, Any]:
    """The form the ``summary`` column holds."""
    return {
        "summary": summary.summary,
        "topics": list(summary.topics),
        "updated_at": summary.updated_at,
        "last_run_at": summary.last_run_at,
    }


def memory_from_row(row: RowMapping) -> UserMemory:
    """A UserMemory from a memories row."""
    return UserMemory(
        memory=row["memory"],
        user_id=row["user_id"],
        memory_id=row["memory_id"],
        topics=list(row["topics"] or []),
        input=row["input"],
        component_id=row["component_id"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


def run_from_row(row: RowMapping) -> RunRecord:
    """A RunRecord from a runs row, payloads decoded."""
    return RunRecord(
        run_id=row["run_id"],
        session_id=row["session_id"],
        status=RunStatus(row["status"]),
        user_id=row["user_id"],
        component_id=row["component_id"],
        parent_run_id=row["parent_run_id"],
        input=decode(row["input"]),
        output=decode(row["output"]),
        metrics=row["metrics"],
        error=row["error"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def message_from_json(data: Any) -> Message:
    """A validated Message from its stored JSON (encoded by the state codec, so text holding a NUL,
    which PostgreSQL's JSONB refuses, is stored tagged)."""
    try:
        return Message.model_validate(decode(data))
    except ValidationError as exc:
        raise StorageError(f"a stored message is malformed: {exc}") from exc
