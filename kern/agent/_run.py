"""One Agent run, from the claimed session to the committed output.

:func:`run_agent` is the only implementation: ``arun``, ``run``, both streaming and not, and
``print_response`` all come here. The steps: record the run as started (with the user's message),
read the history asked for, call the pre-hooks, run the model/tool loop, parse structured output, call
the post-hooks, then commit the completed run with its output and metrics.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pydantic

from kern._private.log import bound_run, get_logger
from kern.db.records import Replay
from kern.exceptions import ModelOutputError
from kern.models.message import Message
from kern.run.active import ActiveRun, RunSpec, execute
from kern.run.events import Emit, RunCompleted, RunError, RunStarted
from kern.run.hooks import run_hooks
from kern.run.model_loop import LoopResult, LoopSettings, run_model_loop
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
    await run_hooks(agent.hooks[0], run, {"run_input": call.input, "agent": agent})

    def prompt() -> list[Message]:
        system = agent.prompt.system_message(context)
        return [*([system] if system else []), *history, *run.messages]

    settings = LoopSettings(
        model=agent.resolved_model,
        toolbox=agent.toolbox,
        retries=agent.resolved_model.retries if agent.retries is None else agent.retries,
        stream=call.stream,
        output_schema=agent.output_schema,
        tool_call_limit=agent.tool_call_limit,
    )
    result = await run_model_loop(settings, run, prompt, Injected(run_context=context, agent=agent), emit)
    output = _output(agent, run, result)
    await run_hooks(agent.hooks[1], run, {"run_output": output, "agent": agent})
    stored = (
        output.content.model_dump(mode="json")
        if isinstance(output.content, pydantic.BaseModel)
        else output.content
    )
    with anyio.CancelScope(shield=True):  # once the model has answered, the answer is kept
        await run.checkpoint(RunStatus.completed, output=stored, metrics=output.metrics.to_json())
    output = dataclasses.replace(output, session_state=run.state_snapshot())
    log.debug("run.completed", agent=agent.component_id, duration=round(output.metrics.duration, 4))
    await emit(
        RunCompleted(run_id=context.run_id, session_id=context.session_id, source=source, output=output)
    )
    return output


def _output(agent: Agent, run: ActiveRun, result: LoopResult) -> RunOutput:
    context = run.context
    return RunOutput(
        run_id=context.run_id,
        session_id=context.session_id,
        user_id=context.user_id,
        source=agent.component_id,
        status=RunStatus.completed,
        content=_content(agent, result),
        messages=tuple(run.messages),
        tools=tuple(result.tools),
        metrics=RunMetrics(
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            model_calls=result.model_calls,
            tool_calls=len(result.tools),
            duration=time.time() - run.started_at,
            time_to_first_token=result.time_to_first_token,
        ),
        session_state=run.state_snapshot(),
    )


def _content(agent: Agent, result: LoopResult) -> Any:
    schema = agent.output_schema
    if schema is None or result.content is None:
        return result.content
    try:
        return schema.model_validate_json(_strip_fence(result.content))
    except pydantic.ValidationError as error:
        raise ModelOutputError(
            f"the answer of model {agent.resolved_model.id!r} does not match {schema.__name__}: {error}",
            model=agent.resolved_model.id,
        ) from error


def _strip_fence(text: str) -> str:
    """Models often wrap JSON in a ```json fence; the schema is about what is inside."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        return stripped.rsplit("```", 1)[0]
    return stripped
