"""The Team definition: a coordinator model leading member Agents (or Teams) over one shared state.

A Team is immutable once built and serves any number of concurrent runs. Its runs persist in a
TeamSession; the coordinator delegates through tools (``delegate_task_to_member``, or in broadcast
mode ``delegate_task_to_members``) and every member acts on the session's one live ``session_state``.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from kern._private.validate import check_int, given
from kern.agent import Agent
from kern.exceptions import UsageError
from kern.run.active import RunHandle
from kern.run.definition import Definition
from kern.run.events import Emit
from kern.run.member import Member
from kern.run.output import RunOutput
from kern.run.runnable import RunCall
from kern.session.schema import SessionType
from kern.team._delegation import BROADCAST, COORDINATE, ROUTE
from kern.team._run import run_team, team_turn
from kern.tools import Function

TeamMode = Literal["coordinate", "route", "broadcast"]
_DELEGATION = {"coordinate": COORDINATE, "route": ROUTE, "broadcast": BROADCAST}


@dataclass(frozen=True, kw_only=True, eq=False, slots=True)
class Team(Definition):
    """A coordinator model that delegates to ``members`` (Agents or Teams) sharing one session state.

    ``mode``: ``"coordinate"`` (the coordinator delegates tasks, in parallel when it asks for several
    in one turn, then answers), ``"route"`` (the first member it delegates to answers for the team), or
    ``"broadcast"`` (one task goes to every member at once). ``max_concurrency`` bounds the members
    running at the same time. With ``share_member_interactions``, a member's task carries what the
    members before it in this run answered. The other parameters are the Agent's, for the coordinator.
    """

    members: Sequence[Agent | Team]
    mode: TeamMode = "coordinate"
    max_concurrency: int | None = None
    share_member_interactions: bool = False

    session_type: ClassVar[SessionType] = SessionType.TEAM
    default_id: ClassVar[str] = "team"

    def __post_init__(self) -> None:
        if self.mode not in _DELEGATION:
            raise UsageError(f"Team: mode must be one of {', '.join(_DELEGATION)}, got {given(self.mode)}")
        check_int(self.max_concurrency, "max_concurrency", minimum=1, optional=True, where="Team")
        _members(self)
        Definition.__post_init__(self)

    def extra_functions(self) -> Sequence[Function]:
        """The delegation tool of the team's mode."""
        return (_DELEGATION[self.mode],)

    def extra_sections(self) -> Sequence[str]:
        """The member roster, and how to delegate in this mode."""
        return (_roster(self.mode, self.members),)

    @property
    def members_by_id(self) -> Mapping[str, Member]:
        """The members, by the id the coordinator names them with."""
        return _members(self)

    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        return run_team(self, call, emit)

    async def arun_member(
        self, run: RunHandle, emit: Emit, *, task: str, stream: bool = False, team: object | None = None
    ) -> RunOutput:
        """Do ``task`` as a member of another team: the coordinator's loop on a member run of that team."""
        return await team_turn(self, run, emit, stream=stream)


def _members(team: Team) -> dict[str, Member]:
    given_members = cast(object, team.members)
    if isinstance(given_members, str | bytes) or not isinstance(given_members, Sequence):
        raise UsageError(f"Team: members must be a list of Agents and Teams, got {given(given_members)}")
    if not team.members:
        raise UsageError("a Team needs at least one member")
    members: dict[str, Member] = {}
    for index, member in enumerate(team.members):
        if not isinstance(member, Agent | Team):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"Team: members[{index}] must be an Agent or a Team, got {given(member)}")
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
    instructions = member.instructions
    first = instructions if isinstance(instructions, str) else next(iter(instructions or ()), "")
    return first.splitlines()[0] if first else member.name or "a member"
