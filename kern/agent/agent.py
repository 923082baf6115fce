"""The Agent definition: a model, its tools and instructions, run on persistent sessions.

An Agent is immutable once built and can serve any number of concurrent runs for different users:
everything that belongs to one run lives in its RunContext. ``arun`` and ``aprint_response`` are the
implementation; ``run`` and ``print_response`` drive them from sync code (kern._private.sync).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from kern.agent._run import agent_turn, run_agent
from kern.db.base import BaseDb
from kern.db.records import OnBusy
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.run.active import RunHandle
from kern.run.agentic_state import agentic_state_tool
from kern.run.events import Emit
from kern.run.hooks import Hook
from kern.run.output import RunOutput
from kern.run.prompt import PromptParts
from kern.run.runnable import RunCall, Runnable, default_model, process_store, slug
from kern.run.tool_calls import Confirm, ToolBox
from kern.session.schema import SessionType
from kern.tools import Function, Toolkit, resolve_tools

ToolLike = Callable[..., Any] | Function | Toolkit


@dataclass(frozen=True, kw_only=True, eq=False)
class Agent(Runnable):
    """A model with tools and instructions, whose runs persist in sessions.

    Without ``model``, the model is ``LiteLLM(id=$KERN_MODEL)`` when that variable is set, else
    ``OpenAIChat(id="gpt-4o")``. Without ``db``, sessions live in the process's in-memory store (shared
    by every definition built without one, so state persists across runs and Agent objects). Without
    ``session_id``, one is generated when the Agent is built, so consecutive runs continue one session.
    """

    model: Model | None = None
    id: str | None = None
    name: str | None = None
    db: BaseDb | None = None
    tools: Sequence[ToolLike] = ()
    instructions: str | Sequence[str] | None = None
    description: str | None = None
    markdown: bool = False
    session_id: str | None = None
    user_id: str | None = None
    session_state: Mapping[str, Any] | None = None
    add_session_state_to_context: bool = False
    enable_agentic_state: bool = False
    overwrite_db_session_state: bool = False
    add_history_to_context: bool = True
    num_history_runs: int = 3
    dependencies: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    retries: int | None = None
    tool_call_limit: int | None = None
    output_schema: type[BaseModel] | None = None
    pre_hooks: Sequence[Hook] = ()
    post_hooks: Sequence[Hook] = ()
    confirm_tool_call: Confirm | None = None
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    _parts: _Parts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_history_runs < 0:
            raise UsageError(f"num_history_runs cannot be negative, got {self.num_history_runs}")
        if self.tool_call_limit is not None and self.tool_call_limit < 0:
            raise UsageError(f"tool_call_limit cannot be negative, got {self.tool_call_limit}")
        functions = resolve_tools(
            [*self.tools, *([agentic_state_tool()] if self.enable_agentic_state else [])]
        )
        parts = _Parts(self, functions)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "id", parts.component_id)
        object.__setattr__(self, "session_id", parts.session_id)

    session_type: ClassVar[SessionType] = SessionType.AGENT

    # --- what the run implementation reads -------------------------------------------------------------

    @property
    def component_id(self) -> str:
        """The id runs and sessions are stored under (``id``, else derived from ``name``, else "agent")."""
        return self._parts.component_id

    @property
    def default_session_id(self) -> str:
        """The session runs use when the call names none (generated when the Agent was built)."""
        return self._parts.session_id

    @property
    def store(self) -> SessionStore:
        """The store runs persist to: the ``db``'s, or the process's in-memory one."""
        return self._parts.store()

    @property
    def resolved_model(self) -> Model:
        """The model runs call."""
        return self._parts.model

    @property
    def toolbox(self) -> ToolBox:
        """The tools runs may call."""
        return self._parts.toolbox

    @property
    def hooks(self) -> tuple[tuple[Hook, ...], tuple[Hook, ...]]:
        """The pre-hooks and post-hooks, in order."""
        return self._parts.pre_hooks, self._parts.post_hooks

    @property
    def prompt(self) -> PromptParts:
        """What the system message is made of."""
        return self._parts.prompt

    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        return run_agent(self, call, emit)

    async def arun_member(
        self, run: RunHandle, emit: Emit, *, task: str, stream: bool = False, team: object | None = None
    ) -> RunOutput:
        """Do ``task`` as a team member, on a member run inside the team's claim (its state is the team's)."""
        return await agent_turn(self, run, emit, input=task, stream=stream, team=team)


class _Parts:
    """What an Agent derives from its definition once: model, tools, prompt, and its store."""

    def __init__(self, agent: Agent, functions: Sequence[Function]) -> None:
        self.component_id = agent.id or slug(agent.name) or "agent"
        self.session_id = agent.session_id or str(uuid.uuid4())
        self.pre_hooks = tuple(agent.pre_hooks)
        self.post_hooks = tuple(agent.post_hooks)
        self.model = agent.model or default_model()
        self.toolbox = ToolBox(
            functions={f.name: f for f in functions},
            source=agent.id or "agent",
            confirm=agent.confirm_tool_call,
        )
        instructions = agent.instructions
        self.prompt = PromptParts(
            description=agent.description,
            instructions=(instructions,) if isinstance(instructions, str) else tuple(instructions or ()),
            tool_instructions=tuple(
                t.instructions for t in agent.tools if isinstance(t, Toolkit) and t.instructions
            ),
            markdown=agent.markdown,
            output_schema=agent.output_schema,
            add_session_state=agent.add_session_state_to_context,
        )
        self._db = agent.db

    def store(self) -> SessionStore:
        return self._db.store if self._db is not None else process_store()
