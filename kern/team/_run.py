"""One Team run: the coordinator's model/tool loop, whose delegation tools run members as child runs.

A top-level team run claims its TeamSession like an Agent run does (kern.run.active.execute); a team
that is itself a member runs the same turn on a child run inside its parent team's claim. Either way
the members act on the one live state of the session, and each member run is committed before the
coordinator reads its answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from kern._private.log import get_logger
from kern.models.message import Message
from kern.run.active import ActiveRun, RunHandle
from kern.run.events import Emit
from kern.run.finish import commit_completed, loop_output
from kern.run.model_loop import LoopSettings, run_model_loop
from kern.run.output import RunOutput
from kern.run.runnable import RunCall
from kern.run.top_level import run_top_level
from kern.team._delegation import Delegation, current
from kern.tools import Injected

if TYPE_CHECKING:
    from kern.team.team import Team

log = get_logger(__name__)


async def run_team(team: Team, call: RunCall, emit: Emit) -> RunOutput:
    """Run ``team`` once on its session and return the committed output."""

    async def turn(run: ActiveRun, history: Sequence[Message]) -> RunOutput:
        return await team_turn(team, run, emit, history=history, stream=call.stream)

    return await run_top_level(team, call, emit, turn)


async def team_turn(
    team: Team, run: RunHandle, emit: Emit, *, history: Sequence[Message] = (), stream: bool = False
) -> RunOutput:
    """The coordinator's loop on a run holding the session (the team's own, or a member run of a parent)."""

    def prompt() -> list[Message]:
        system = team.prompt.system_message(run.context)
        return [*([system] if system else []), *history, *run.messages]

    model = team.resolved_model
    settings = LoopSettings(
        model=model,
        toolbox=team.toolbox,
        retries=model.retries if team.retries is None else team.retries,
        stream=stream,
        output_schema=team.output_schema,
        tool_call_limit=team.tool_call_limit,
    )
    limit = team.max_concurrency or math.inf
    delegation = Delegation(team, team.members_by_id, run, emit, stream, anyio.CapacityLimiter(limit))
    token = current.set(delegation)
    try:
        result = await run_model_loop(
            settings, run, prompt, Injected(run_context=run.context, team=team), emit
        )
    finally:
        current.reset(token)
    members = tuple(delegation.outputs)
    output = loop_output(run, settings, result, source=team.component_id, member_responses=members)
    return await commit_completed(run, output)
