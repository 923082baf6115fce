"""What a session is, as the session management API returns it.

``Session`` is the one shape; ``AgentSession``, ``TeamSession`` and ``WorkflowSession`` name its three
kinds so user code can tell them apart with ``isinstance``. These are plain dataclasses: the runtime
builds them from validated rows, they never reach back into the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kern.models.message import Message
from kern.session.status import RunStatus, StepStatus


class SessionType(StrEnum):
    """Which kind of runnable a session belongs to."""

    AGENT = "agent"
    TEAM = "team"
    WORKFLOW = "workflow"


@dataclass(slots=True)
class SessionSummary:
    """A condensed account of a session's conversation so far.

    ``last_run_at`` is the start time (unix seconds) of the last run the summary covers: history shown
    with the summary starts after it.
    """

    summary: str
    topics: list[str] = field(default_factory=list[str])
    updated_at: int | None = None
    last_run_at: float | None = None


@dataclass(slots=True)
class UserMemory:
    """A durable fact about a user, kept across sessions (the ``memories`` table).

    ``input`` is the message it was learnt from, ``component_id`` the agent or team that learnt it.
    """

    memory: str
    user_id: str | None = None
    memory_id: str = ""
    topics: list[str] = field(default_factory=list[str])
    input: str | None = None
    component_id: str | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class RunRecord:
    """One stored run: a top-level run, or a member/step run when ``parent_run_id`` is set."""

    run_id: str
    session_id: str
    status: RunStatus
    user_id: str | None = None
    component_id: str | None = None
    parent_run_id: str | None = None
    input: Any = None
    output: Any = None
    metrics: dict[str, Any] = field(default_factory=dict[str, Any])
    error: str | None = None
    idempotency_key: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True)
class StepRecord:
    """One row of a workflow run's journal: a step at ``step_path``, how it went and what it produced.

    ``output`` is the step's encoded output (once completed); ``decision`` what a condition, loop or
    router decided there; ``state_patch`` the state changes committed with the step (JSON patch ops).
    """

    run_id: str
    step_path: str
    step_name: str
    status: StepStatus
    output: Any = None
    decision: Any = None
    state_patch: list[Any] | None = None
    error: str | None = None
    attempt: int = 1
    started_at: float = 0.0
    finished_at: float | None = None


@dataclass(slots=True)
class Session:
    """A session: its identity, owner, state, and (when loaded) its conversation and runs.

    ``created_at``/``updated_at`` are unix seconds. ``messages`` and ``runs`` are filled by
    ``get_session``; listings fill ``messages`` but never load run payloads (``runs`` stays empty).
    """

    session_id: str
    session_type: SessionType
    user_id: str | None = None
    component_id: str | None = None
    session_name: str | None = None
    session_state: dict[str, Any] = field(default_factory=dict[str, Any])
    summary: SessionSummary | None = None
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    messages: list[Message] = field(default_factory=list[Message])
    runs: list[RunRecord] = field(default_factory=list[RunRecord])
    version: int = 0
    created_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class AgentSession(Session):
    """A session of an Agent (``SessionType.AGENT``)."""


@dataclass(slots=True)
class TeamSession(Session):
    """A session of a Team (``SessionType.TEAM``)."""


@dataclass(slots=True)
class WorkflowSession(Session):
    """A session of a Workflow (``SessionType.WORKFLOW``)."""


SESSION_CLASSES: dict[SessionType, type[Session]] = {
    SessionType.AGENT: AgentSession,
    SessionType.TEAM: TeamSession,
    SessionType.WORKFLOW: WorkflowSession,
}
