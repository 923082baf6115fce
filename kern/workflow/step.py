"""The leaf step of a workflow and what steps hand each other: StepInput in, StepOutput out.

A :class:`Step` runs an Agent, a Team or a function (its ``executor``). A function gets the
:class:`StepInput` as its first argument and may ask for ``session_state`` (the workflow's live state)
or ``run_context`` by parameter name, as tools do; it returns a :class:`StepOutput` or any value, which
becomes the output's ``content``. The composites (kern.workflow.composite) group steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from kern._private.validate import check_int, check_seconds
from kern.exceptions import UsageError

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


@dataclass(frozen=True, slots=True, init=False)
class Step:
    """One step: exactly one of ``agent``, ``team`` or ``executor``.

    ``name`` defaults to the agent's or team's name (else its id), or the function's ``__name__``,
    numbered among its siblings if another step has it (``derived_name`` says it was not given).
    ``on_error``: ``"fail"`` (default) fails the run; ``"skip"`` goes on as if the step had not run;
    ``"continue"`` goes on and hands the failure (``StepOutput(success=False)``) to the next step.
    ``retries`` re-runs a failing step up to that many more times, waiting ``retry_delay`` seconds,
    doubled each time. ``inline=True`` calls a sync ``executor`` on the event loop instead of a worker
    thread, saving the thread hop: for cheap code that never blocks; nothing can interrupt it while it
    runs (a run's timeout applies once it returns).
    """

    name: str
    agent: Agent | None
    team: Team | None
    executor: Executor | None
    description: str | None
    on_error: OnError
    retries: int
    retry_delay: float
    inline: bool
    derived_name: bool = field(repr=False, compare=False)

    def __init__(
        self,
        name: str | None = None,
        agent: Agent | None = None,
        team: Team | None = None,
        executor: Executor | None = None,
        description: str | None = None,
        on_error: OnError = "fail",
        retries: int = 0,
        retry_delay: float = 1.0,
        inline: bool = False,
    ) -> None:
        fields = {
            "agent": agent,
            "team": team,
            "executor": executor,
            "description": description,
            "on_error": on_error,
            "retries": retries,
            "retry_delay": retry_delay,
            "inline": inline,
        }
        for key, value in fields.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "name", name if name is not None else _name_of(agent or team or executor))
        object.__setattr__(self, "derived_name", name is None)
        self.__post_init__()

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
        check_int(self.retries, "retries", minimum=0, where=f"step {self.name!r}")
        check_seconds(self.retry_delay, "retry_delay", zero=True, where=f"step {self.name!r}")
        if self.executor is not None and not callable(self.executor):
            raise UsageError(f"step {self.name!r}: executor must be callable, got {self.executor!r}")
        if not isinstance(self.inline, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"step {self.name!r}: inline must be True or False, got {self.inline!r}")
        if self.inline and self.executor is None:
            raise UsageError(f"step {self.name!r}: inline=True applies to a function step (executor=) only")


def _name_of(target: object) -> str:
    """The name a step takes from what it runs when it is given none."""
    if target is None:
        return "step"
    name = getattr(target, "name", None) or getattr(target, "component_id", None)
    if isinstance(name, str) and name:
        return name
    return str(getattr(target, "__name__", type(target).__name__))
