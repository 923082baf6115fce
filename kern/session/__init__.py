"""Sessions: the schema every Agent, Team and Workflow run belongs to, and the state codec."""

from kern.session.schema import (
    AgentSession,
    RunRecord,
    Session,
    SessionSummary,
    SessionType,
    TeamSession,
    WorkflowSession,
)

__all__ = [
    "AgentSession",
    "RunRecord",
    "Session",
    "SessionSummary",
    "SessionType",
    "TeamSession",
    "WorkflowSession",
]
