"""The Agent definition: a model, its tools and instructions, run on persistent sessions.

An Agent is immutable once built and can serve any number of concurrent runs for different users:
everything that belongs to one run lives in its RunContext. ``arun`` and ``aprint_response`` are the
implementation; ``run`` and ``print_response`` drive them from sync code (kern._private.sync).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kern.agent._run import agent_turn, run_agent
from kern.run.active import RunHandle
from kern.run.definition import Definition
from kern.run.events import Emit
from kern.run.hooks import Hook
from kern.run.output import RunOutput
from kern.run.runnable import RunCall
from kern.run.tool_calls import Confirm
from kern.session.schema import SessionType


@dataclass(frozen=True, kw_only=True, eq=False, slots=True)
class Agent(Definition):
    """A model with tools and instructions, whose runs persist in sessions.

    Without ``model``, the model is ``LiteLLM(id=$KERN_MODEL)`` when that variable is set, else
    ``OpenAIChat(id="gpt-4o")``. Without ``db``, sessions live in the process's in-memory store (shared
    by every definition built without one, so state persists across runs and Agent objects). Without
    ``session_id``, one is generated when the Agent is built, so consecutive runs continue one session.
    ``pre_hooks``/``post_hooks`` run before and after the model (kern.run.hooks says what they get);
    ``confirm_tool_call`` decides whether a ``requires_confirmation`` tool call may run.
    """

    pre_hooks: Sequence[Hook] = ()
    post_hooks: Sequence[Hook] = ()
    confirm_tool_call: Confirm | None = None

    session_type: ClassVar[SessionType] = SessionType.AGENT
    default_id: ClassVar[str] = "agent"

    def confirm(self) -> Confirm | None:
        """Who confirms the calls of tools that require it."""
        return self.confirm_tool_call

    @property
    def hooks(self) -> tuple[tuple[Hook, ...], tuple[Hook, ...]]:
        """The pre-hooks and post-hooks, in order."""
        return tuple(self.pre_hooks), tuple(self.post_hooks)

    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        return run_agent(self, call, emit)

    async def arun_member(
        self, run: RunHandle, emit: Emit, *, task: str, stream: bool = False, team: object | None = None
    ) -> RunOutput:
        """Do ``task`` as a team member, on a member run inside the team's claim (its state is the team's)."""
        return await agent_turn(self, run, emit, input=task, stream=stream, team=team)
