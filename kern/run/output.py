"""RunOutput: what a finished run hands back, the same shape for Agents, Teams and Workflows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from kern.models.message import Message
from kern.session.status import RunStatus

if TYPE_CHECKING:
    from kern.run.post_run import PostRun


@dataclass(frozen=True, slots=True)
class ToolExecution:
    """One tool call of a run: what the model asked for and what it got back."""

    call_id: str
    name: str
    arguments: str
    result: str | None = None
    is_error: bool = False
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """Tokens and time a run consumed. Durations are in seconds.

    A failed run's row stores them too: the model calls that answered before the failure, their
    tokens and the tool calls made. ``finish_reasons`` says why each model call's answer ended, in
    order: ``"stop"``, ``"tool_calls"``, ``"length"`` (cut off by the output token limit,
    ``max_tokens``), ... (None where the provider did not say).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    duration: float = 0.0
    time_to_first_token: float | None = None
    finish_reasons: tuple[str | None, ...] = ()

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunMetrics:
        """The metrics as stored by :meth:`to_json` (unknown keys ignored, missing ones zero)."""
        return cls(
            input_tokens=int(data.get("input_tokens", 0)),
            output_tokens=int(data.get("output_tokens", 0)),
            model_calls=int(data.get("model_calls", 0)),
            tool_calls=int(data.get("tool_calls", 0)),
            duration=float(data.get("duration", 0.0)),
            time_to_first_token=data.get("time_to_first_token"),
            finish_reasons=tuple(_reasons(data.get("finish_reasons"))),
        )

    def to_json(self) -> dict[str, Any]:
        """The form stored in the run row's ``metrics`` column."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "model_calls": self.model_calls,
            "tool_calls": self.tool_calls,
            "duration": round(self.duration, 6),
            "time_to_first_token": self.time_to_first_token,
            "finish_reasons": list(self.finish_reasons),
        }


def _reasons(stored: Any) -> list[str | None]:
    items: list[Any] = list(cast(list[Any], stored)) if isinstance(stored, list) else []
    return [item if isinstance(item, str) else None for item in items]


@dataclass(frozen=True, slots=True)
class RunOutput:
    """The result of one run.

    ``content`` is the model's final text, or an instance of the definition's ``output_schema``.
    ``messages`` are the messages this run added to the session (history it was shown is not repeated).
    ``session_state`` is a snapshot of the state as the run committed it. A team's output lists the
    outputs of the member runs it delegated to in ``member_responses``; a workflow's, each step's
    StepOutput by step name in ``step_outputs``.
    """

    run_id: str
    session_id: str
    user_id: str | None
    source: str
    status: RunStatus
    content: Any = None
    messages: tuple[Message, ...] = ()
    tools: tuple[ToolExecution, ...] = ()
    metrics: RunMetrics = field(default_factory=RunMetrics)
    session_state: dict[str, Any] = field(default_factory=dict[str, Any])
    error: str | None = None
    parent_run_id: str | None = None
    member_responses: tuple[RunOutput, ...] = ()
    step_outputs: dict[str, Any] = field(default_factory=dict[str, Any])
    post_run: PostRun | None = None
    """The summary/memory work after the run (when the definition does any): ``await post_run.wait()``."""

    @property
    def finish_reason(self) -> str | None:
        """Why the model's last answer ended: ``"stop"``, or ``"length"`` when the output token limit
        (``max_tokens``) cut it off (the run completed with the text it had), ... (None: no model
        call, or the provider did not say). Every call's is in ``metrics.finish_reasons``."""
        reasons = self.metrics.finish_reasons
        return reasons[-1] if reasons else None

    def get_content_as_string(self) -> str:
        """The content as text: structured output as JSON, nothing as ''."""
        if self.content is None:
            return ""
        if isinstance(self.content, BaseModel):
            return self.content.model_dump_json()
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, default=str)
