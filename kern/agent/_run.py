"""One Agent run, from the claimed session to the committed output.

:func:`run_agent` is the only implementation: ``arun``, ``run``, both streaming and not, and
``print_response`` all come here. The steps: record the run as started (with the user's message),
read the history asked for, call the pre-hooks, run the model/tool loop, parse structured output, call
the post-hooks, then commit the completed run with its output and metrics.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kern._private.log import bound_run, get_logger
from kern.db.records import Replay
from kern.models.message import Message
from kern.run.active import ActiveRun, RunHandle, RunSpec, execute
from kern.run.events import Emit, RunCompleted, RunError, RunStarted
from kern.run.finish import commit_completed, loop_output
from kern.run.hooks import run_hooks
from kern.run.model_loop import LoopSettings, run_model_loop
from kern.run.output import RunMetrics, RunOutput
from kern.run.runnable import RunCall
from kern.run.status import RunStatus
from kern.session.schema import SessionType
from kern.tools import Injected

if TYPE_CHECKING:
    from kern.agent.agent import Agent

log = get_logger(__name__)


async def run_agent(agent: Agent, call: RunCall, emit: Emit) -> RunOutput:
    """Run ``agent`` once on its session and return the committed output."""
    spec = RunSpec(
        store=agent.store,
        session_type=SessionType.AGENT,
        component_id=agent.component_id,
        session_id=call.session_id,
        user_id=call.user_id,
        run_id=str(uuid.uuid4()),
        input=call.input,
        default_state=agent.session_state or {},
        passed_state=call.session_state,
        overwrite_state=agent.overwrite_db_session_state,
        dependencies=call.dependencies,
        metadata=call.metadata,
        messages=(Message(role="user", content=call.input),),
        on_busy=agent.on_busy,
        busy_timeout=agent.busy_timeout,
        lease_seconds=agent.lease_seconds,
        idempotency_key=call.idempotency_key,
    )
    replays: list[RunOutput] = []

    def replayed(replay: Replay) -> RunOutput:
        replays.append(replayed_output(agent, replay))
        return replays[0]

    with bound_run(run_id=spec.run_id, session_id=spec.session_id):
        try:
            output = await execute(spec, lambda run: _body(agent, call, run, emit), replayed)
        except Exception as error:
            await emit(
                RunError(
                    run_id=spec.run_id,
                    session_id=spec.session_id,
                    source=agent.component_id,
                    error=f"{type(error).__name__}: {error}",
                    status=RunStatus.error.value,
                )
            )
            raise
    if replays:
        log.info("run.replayed", run_id=output.run_id, idempotency_key=call.idempotency_key)
        await emit(
            RunCompleted(
                run_id=output.run_id, session_id=output.session_id, source=output.source, output=output
            )
        )
    return output


def replayed_output(agent: Agent, replay: Replay) -> RunOutput:
    """The output of the recorded run an idempotency key pointed at."""
    run, content = replay.run, replay.run.output
    if agent.output_schema is not None and content is not None:
        content = agent.output_schema.model_validate(content)
    return RunOutput(
        run_id=run.run_id,
        session_id=run.session_id,
        user_id=run.user_id,
        source=run.component_id or agent.component_id,
        status=run.status,
        content=content,
        messages=tuple(replay.messages),
        metrics=RunMetrics.from_json(run.metrics),
        session_state=replay.session.session_state,
    )


async def _body(agent: Agent, call: RunCall, run: ActiveRun, emit: Emit) -> RunOutput:
    context, source = run.context, agent.component_id
    log.debug("run.started", agent=source)
    await emit(
        RunStarted(run_id=context.run_id, session_id=context.session_id, source=source, input=call.input)
    )
    history: list[Message] = []
    if agent.add_history_to_context:
        history = await agent.store.history(context.session_id, context.user_id, agent.num_history_runs)
    output = await agent_turn(agent, run, emit, input=call.input, history=history, stream=call.stream)
    log.debug("run.completed", agent=source, duration=round(output.metrics.duration, 4))
    await emit(
        RunCompleted(run_id=context.run_id, session_id=context.session_id, source=source, output=output)
    )
    return output


async def agent_turn(
    agent: Agent,
    run: RunHandle,
    emit: Emit,
    *,
    input: str,
    history: Sequence[Message] = (),
    stream: bool = False,
    team: object | None = None,
) -> RunOutput:
    """The Agent's work on a run that holds its session: hooks, the model/tool loop, the final commit.

    A top-level run and a team member's run (a ChildRun inside the team's claim) both come here.
    """
    await run_hooks(agent.hooks[0], run, {"run_input": input, "agent": agent})

    def prompt() -> list[Message]:
        system = agent.prompt.system_message(run.context)
        return [*([system] if system else []), *history, *run.messages]

    settings = LoopSettings(
        model=agent.resolved_model,
        toolbox=agent.toolbox,
        retries=agent.resolved_model.retries if agent.retries is None else agent.retries,
        stream=stream,
        output_schema=agent.output_schema,
        tool_call_limit=agent.tool_call_limit,
    )
    injected = Injected(run_context=run.context, agent=agent, team=team)
    result = await run_model_loop(settings, run, prompt, injected, emit)
    output = loop_output(run, settings, result, source=agent.component_id)
    await run_hooks(agent.hooks[1], run, {"run_output": output, "agent": agent})
    return await commit_completed(run, output)
