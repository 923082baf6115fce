"""Per-run objects shared by Agents, Teams and Workflows: the context, the output, the events."""

from kern.run.events import (
    MemberRunCompleted,
    MemberRunStarted,
    RunCompleted,
    RunContent,
    RunError,
    RunEvent,
    RunStarted,
    StepCompleted,
    StepStarted,
    ToolCallCompleted,
    ToolCallStarted,
)
from kern.run.output import RunMetrics, RunOutput, ToolExecution
from kern.session.context import RunContext
from kern.session.status import RunStatus, StepStatus

__all__ = [
    "MemberRunCompleted",
    "MemberRunStarted",
    "RunCompleted",
    "RunContent",
    "RunContext",
    "RunError",
    "RunEvent",
    "RunMetrics",
    "RunOutput",
    "RunStarted",
    "RunStatus",
    "StepCompleted",
    "StepStarted",
    "StepStatus",
    "ToolCallCompleted",
    "ToolCallStarted",
    "ToolExecution",
]
