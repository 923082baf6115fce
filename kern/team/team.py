"""The Team definition: a coordinator model leading member Agents (or Teams) over one shared state.

A Team is immutable once built and serves any number of concurrent runs. Its runs persist in a
TeamSession; the coordinator delegates through tools (``delegate_task_to_member``, or in broadcast
mode ``delegate_task_to_members``) and every member acts on the session's one live ``session_state``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from kern.agent import Agent
from kern.db.base import BaseDb
from kern.db.records import OnBusy
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.run.active import RunHandle
from kern.run.agentic_state import agentic_state_tool
from kern.run.events import Emit
from kern.run.output import RunOutput
from kern.run.prompt import PromptParts
from kern.run.runnable import RunCall, Runnable, default_model, process_store, slug
from kern.run.tool_calls import ToolBox
from kern.session.schema import SessionType
from kern.team._delegation import BROADCAST, COORDINATE, ROUTE, Member
from kern.team._run import run_team, team_turn
from kern.tools import Function, Toolkit, resolve_tools

TeamMode = Literal["coordinate", "route", "broadcast"]
_DELEGATION = {"coordinate": COORDINATE, "route": ROUTE, "broadcast": BROADCAST}


@dataclass(frozen=True, kw_only=True, eq=False)
class Team(Runnable):
    """A coordinator model that delegates to ``members`` (Agents or Teams) sharing one session state.

    ``mode``: ``"coordinate"`` (the coordinator delegates tasks, in parallel when it asks for several
    in one turn, then answers), ``"route"`` (the first member it delegates to answers for the team), or
    ``"broadcast"`` (one task goes to every member at once). ``max_concurrency`` bounds the members
    running at the same time. With ``share_member_interactions``, a member's task carries what the
    members before it in this run answered.
    """

    members: Sequence[Agent | Team]
    model: Model | None = None
    id: str | None = None
    name: str | None = None
    db: BaseDb | None = None
    tools: Sequence[Callable[..., Any] | Function | Toolkit] = ()
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
    mode: TeamMode = "coordinate"
    max_concurrency: int | None = None
    share_member_interactions: bool = False
    retries: int | None = None
    tool_call_limit: int | None = None
    output_schema: type[BaseModel] | None = None
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    _parts: _TeamParts = field(init=False, repr=False)

    session_type: ClassVar[SessionType] = SessionType.TEAM

    def __post_init__(self) -> None:
        if self.mode not in _DELEGATION:
            raise UsageError(f"mode must be one of {', '.join(_DELEGATION)}, got {self.mode!r}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise UsageError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
        parts = _TeamParts(self)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "id", parts.component_id)
        object.__setattr__(self, "session_id", parts.session_id)

    @property
    def component_id(self) -> str:
        """The id runs and sessions are stored under (``id``, else derived from ``name``, else "team")."""
        return self._parts.component_id

    @property
    def default_session_id(self) -> str:
        """The session runs use when the call names none (generated when the Team was built)."""
        return self._parts.session_id

    @property
    def store(self) -> SessionStore:
        """The store runs persist to: the ``db``'s, or the process's in-memory one."""
        return self.db.store if self.db is not None else process_store()

    @property
    def members_by_id(self) -> Mapping[str, Member]:
        """The members, by the id the coordinator names them with."""
        return self._parts.members

    @property
    def resolved_model(self) -> Model:
        """The coordinator's model."""
        return self._parts.model

    @property
    def toolbox(self) -> ToolBox:
        """The coordinator's tools: its own, the delegation tool of its mode, and agentic state."""
        return self._parts.toolbox

    @property
    def prompt(self) -> PromptParts:
        """What the coordinator's system message is made of, the member roster included."""
        return self._parts.prompt

    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        return run_team(self, call, emit)

    async def arun_member(
        self, run: RunHandle, emit: Emit, *, task: str, stream: bool = False, team: object | None = None
    ) -> RunOutput:
        """Do ``task`` as a member of another team: the coordinator's loop on a member run of that team."""
        return await team_turn(self, run, emit, stream=stream)


class _TeamParts:
    """What a Team derives from its definition once."""

    def __init__(self, team: Team) -> None:
        self.component_id = team.id or slug(team.name) or "team"
        self.session_id = team.session_id or str(uuid.uuid4())
        self.model = team.model or default_model()
        self.members = _members(team)
        own = resolve_tools([*team.tools, *([agentic_state_tool()] if team.enable_agentic_state else [])])
        functions = [*own, _DELEGATION[team.mode]]
        if len({f.name for f in functions}) != len(functions):
            raise UsageError(f"a tool of team {self.component_id!r} has the name of the delegation tool")
        self.toolbox = ToolBox(functions={f.name: f for f in functions}, source=self.component_id)
        instructions = team.instructions
        toolkits = tuple(t.instructions for t in team.tools if isinstance(t, Toolkit) and t.instructions)
        self.prompt = PromptParts(
            description=team.description,
            instructions=(instructions,) if isinstance(instructions, str) else tuple(instructions or ()),
            tool_instructions=(_roster(team.mode, team.members), *toolkits),
            markdown=team.markdown,
            output_schema=team.output_schema,
            add_session_state=team.add_session_state_to_context,
        )


def _members(team: Team) -> dict[str, Member]:
    if not team.members:
        raise UsageError("a Team needs at least one member")
    members: dict[str, Member] = {}
    for member in team.members:
        if member.component_id in members:
            raise UsageError(
                f"two members of the team have the id {member.component_id!r}; give them distinct ids"
            )
        members[member.component_id] = member
    return members


def _roster(mode: TeamMode, members: Sequence[Agent | Team]) -> str:
    how = {
        "coordinate": "Delegate tasks with delegate_task_to_member (several calls in one turn run in "
        "parallel), then answer from what the members report.",
        "route": "Pick the one member best suited to the request and delegate it with "
        "delegate_task_to_member; that member's answer is the team's answer.",
        "broadcast": "Send the task to every member at once with delegate_task_to_members, then answer from "
        "all their answers.",
    }[mode]
    lines = [f"- {m.component_id}: {_role(m)}" for m in members]
    return "You lead a team. Its members:\n" + "\n".join(lines) + "\n\n" + how


def _role(member: Agent | Team) -> str:
    if member.description:
        return member.description
    if isinstance(member, Agent) and isinstance(member.instructions, str):
        return member.instructions.splitlines()[0] if member.instructions else member.name or "a member"
    return member.name or "a member"
