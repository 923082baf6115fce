"""The events a streamed run yields, one union for Agents, Teams and Workflows.

Every event carries the ``run_id`` and ``session_id`` it belongs to and its ``source``: the id of the
agent, team or workflow that emitted it, so a team's stream tells its members apart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kern.run.output import RunOutput, ToolExecution


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseRunEvent:
    """What every event has."""

    run_id: str
    session_id: str
    source: str
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(BaseRunEvent):
    """The run claimed its session and is about to call the model."""

    input: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContent(BaseRunEvent):
    """A piece of the model's answer text, in order."""

    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStarted(BaseRunEvent):
    """A tool call is about to run."""

    tool: ToolExecution


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallCompleted(BaseRunEvent):
    """A tool call finished; ``tool.is_error`` tells whether it failed."""

    tool: ToolExecution


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRunStarted(BaseRunEvent):
    """A team delegated ``task`` to a member; ``member_run_id`` is the member's own run."""

    member_id: str
    member_run_id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRunCompleted(BaseRunEvent):
    """A member finished the task it was given and its run is committed."""

    member_id: str
    output: RunOutput


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(BaseRunEvent):
    """A workflow step is about to run; ``step_path`` is its place in the run (``"3/parallel/1"``)."""

    step_name: str
    step_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCompleted(BaseRunEvent):
    """A workflow step ended and its journal row is committed.

    ``status`` is the journal's (completed, continued, skipped); ``replayed`` says the step had
    completed before the run was resumed, and its recorded output was reused.
    """

    step_name: str
    step_path: str
    status: str
    content: object = None
    error: str | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCompleted(BaseRunEvent):
    """The run committed; ``output`` is what ``arun`` returns."""

    output: RunOutput


@dataclass(frozen=True, slots=True, kw_only=True)
class RunError(BaseRunEvent):
    """The run failed or was cancelled and recorded so; the exception is raised after this event."""

    error: str
    status: str


RunEvent = (
    RunStarted
    | RunContent
    | ToolCallStarted
    | ToolCallCompleted
    | MemberRunStarted
    | MemberRunCompleted
    | StepStarted
    | StepCompleted
    | RunCompleted
    | RunError
)

Emit = Callable[[RunEvent], Awaitable[None]]
"""Where a run sends its events: a stream's sender, or nowhere."""


async def discard(event: RunEvent) -> None:
    """An :data:`Emit` for runs nobody streams."""
