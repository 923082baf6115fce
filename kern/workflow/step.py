"""The leaf step of a workflow and what steps hand each other: StepInput in, StepOutput out.

A :class:`Step` runs an Agent, a Team or a function (its ``executor``). A function gets the
:class:`StepInput` as its first argument and may ask for ``session_state`` (the workflow's live state)
or ``run_context`` by parameter name, as tools do; it returns a :class:`StepOutput` or any value, which
becomes the output's ``content``. The composites (kern.workflow.composite) group steps.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from kern.exceptions import UsageError
from kern.session.context import RunContext

if TYPE_CHECKING:
    from kern.agent import Agent
    from kern.team import Team

OnError = Literal["fail", "skip", "continue"]
"""What a failing step does: fail the run (default), or let it go on without it, or with its failure."""


@dataclass(frozen=True, slots=True)
class StepOutput:
    """What a step produced. ``success`` is False for a step that failed and ``on_error="continue"``."""

    content: Any = None
    step_name: str | None = None
    success: bool = True
    error: str | None = None

    def get_content_as_string(self) -> str:
        """The content as text ('' for none)."""
        if self.content is None:
            return ""
        return self.content if isinstance(self.content, str) else str(self.content)

    def to_json(self) -> dict[str, Any]:
        """The form the journal keeps (the content through the state codec)."""
        return {
            "content": self.content,
            "step_name": self.step_name,
            "success": self.success,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Any) -> StepOutput:
        """Read back :meth:`to_json`'s output."""
        if not isinstance(data, Mapping):
            return cls(content=data)
        fields = cast("Mapping[str, Any]", data)
        return cls(
            content=fields.get("content"),
            step_name=fields.get("step_name"),
            success=bool(fields.get("success", True)),
            error=fields.get("error"),
        )


@dataclass(frozen=True, slots=True)
class StepInput:
    """What a step is given: the workflow's input, the previous step's output, every output so far.

    ``previous_step_outputs`` maps step names to their outputs in the order the steps ran (a step that
    ran several times in a loop keeps its latest output).
    """

    input: str
    previous_step_output: StepOutput | None = None
    previous_step_outputs: Mapping[str, StepOutput] = field(default_factory=dict[str, StepOutput])

    @property
    def previous_step_content(self) -> Any:
        """The previous step's content, None for the first step."""
        return self.previous_step_output.content if self.previous_step_output is not None else None

    def get_step_output(self, name: str) -> StepOutput | None:
        """The output of the step called ``name``, None if it has not run."""
        return self.previous_step_outputs.get(name)

    def get_step_content(self, name: str) -> Any:
        """The content of the step called ``name``, None if it has not run."""
        output = self.previous_step_outputs.get(name)
        return output.content if output is not None else None

    def task(self) -> str:
        """The message an agent or team step is given: the input, and what the previous step produced."""
        if self.previous_step_output is None or self.previous_step_output.content is None:
            return self.input
        previous = self.previous_step_output
        text = previous.get_content_as_string()
        return f"{self.input}\n\nOutput of the previous step ({previous.step_name}):\n{text}"


Executor = Callable[..., Any]
"""A function step: ``fn(step_input, [session_state=...], [run_context=...])``, sync or async."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step: exactly one of ``agent``, ``team`` or ``executor``.

    ``on_error``: ``"fail"`` (default) fails the run; ``"skip"`` goes on as if the step had not run;
    ``"continue"`` goes on and hands the failure (``StepOutput(success=False)``) to the next step.
    ``retries`` re-runs a failing step up to that many more times, waiting ``retry_delay`` seconds,
    doubled each time.
    """

    name: str
    agent: Agent | None = None
    team: Team | None = None
    executor: Executor | None = None
    description: str | None = None
    on_error: OnError = "fail"
    retries: int = 0
    retry_delay: float = 1.0

    def __post_init__(self) -> None:
        given = [kind for kind in ("agent", "team", "executor") if getattr(self, kind) is not None]
        if len(given) != 1:
            raise UsageError(
                f"step {self.name!r} needs exactly one of agent=, team= or executor=, got {given or 'none'}"
            )
        if self.on_error not in ("fail", "skip", "continue"):
            raise UsageError(
                f"step {self.name!r}: on_error must be 'fail', 'skip' or 'continue', got {self.on_error!r}"
            )
        if self.retries < 0 or self.retry_delay < 0:
            raise UsageError(f"step {self.name!r}: retries and retry_delay cannot be negative")
        if self.executor is not None and not callable(self.executor):
            raise UsageError(f"step {self.name!r}: executor must be callable, got {self.executor!r}")


@dataclass(frozen=True, slots=True)
class UserFunction:
    """A user's callable with what it asks to be injected (``session_state``, ``run_context``)."""

    fn: Callable[..., Any]
    wants: frozenset[str]

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> UserFunction:
        """``fn`` with what it asks for; its signature is inspected once, not on every call."""
        try:
            wants = _injected(fn)
        except TypeError:  # an unhashable callable: inspected each time
            wants = _injected.__wrapped__(fn)
        return cls(fn, wants)

    def kwargs(self, context: RunContext) -> dict[str, Any]:
        """The injected keyword arguments for a call in ``context``."""
        values = {"session_state": context.session_state, "run_context": context}
        return {name: values[name] for name in self.wants}


@functools.lru_cache(maxsize=1024)
def _injected(fn: Callable[..., Any]) -> frozenset[str]:
    """The injected parameters ``fn`` names."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: it gets the positional argument only
        return frozenset()
    return frozenset(name for name in ("session_state", "run_context") if name in parameters)
