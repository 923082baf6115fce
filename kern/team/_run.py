"""One Team run: the coordinator's model/tool loop, whose delegation tools run members as child runs.

A top-level team run claims its TeamSession like an Agent run does (kern.run.active.execute); a team
that is itself a member runs the same turn on a child run inside its parent team's claim. Either way
the members act on the one live state of the session, and each member run is committed before the
coordinator reads its answer.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from kern._private.log import bound_run, get_logger
from kern.models.message import Message
from kern.run.active import ActiveRun, RunHandle, RunSpec, execute
from kern.run.events import Emit, RunCompleted, RunError, RunStarted
from kern.run.finish import commit_completed, loop_output
from kern.run.model_loop import LoopSettings, run_model_loop
from kern.run.output import RunOutput
from kern.run.runnable import RunCall
from kern.run.status import RunStatus
from kern.session.schema import SessionType
from kern.team._delegation import Delegation, current
from kern.tools import Injected

if TYPE_CHECKING:
    from kern.team.team import Team

log = get_logger(__name__)


async def run_team(team: Team, call: RunCall, emit: Emit) -> RunOutput:
    """Run ``team`` once on its session and return the committed output."""
    spec = RunSpec(
        store=team.store,
        session_type=SessionType.TEAM,
        component_id=team.component_id,
        session_id=call.session_id,
        user_id=call.user_id,
        run_id=str(uuid.uuid4()),
        input=call.input,
        default_state=team.session_state or {},
        passed_state=call.session_state,
        overwrite_state=team.overwrite_db_session_state,
        dependencies=call.dependencies,
        metadata=call.metadata,
        messages=(Message(role="user", content=call.input),),
        on_busy=team.on_busy,
        busy_timeout=team.busy_timeout,
        lease_seconds=team.lease_seconds,
    )
    with bound_run(run_id=spec.run_id, session_id=spec.session_id):
        try:
            return await execute(spec, lambda run: _body(team, call, run, emit))
        except Exception as error:
            await emit(
                RunError(
                    run_id=spec.run_id,
                    session_id=spec.session_id,
                    source=team.component_id,
                    error=f"{type(error).__name__}: {error}",
                    status=RunStatus.error.value,
                )
            )
            raise


async def _body(team: Team, call: RunCall, run: ActiveRun, emit: Emit) -> RunOutput:
    context, source = run.context, team.component_id
    await emit(
        RunStarted(run_id=context.run_id, session_id=context.session_id, source=source, input=call.input)
    )
    history: list[Message] = []
    if team.add_history_to_context:
        history = await team.store.history(context.session_id, context.user_id, team.num_history_runs)
    output = await team_turn(team, run, emit, history=history, stream=call.stream)
    await emit(
        RunCompleted(run_id=context.run_id, session_id=context.session_id, source=source, output=output)
    )
    return output


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
