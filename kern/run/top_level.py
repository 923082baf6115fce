"""A top-level run of any runnable on its session: claim, history, the runnable's turn, commit.

Agents and Teams differ only in their turn (one model/tool loop, or a coordinator delegating to
members); how a run claims its session, starts, reads its history, reports events, replays an
idempotent retry and records a failure is the same, and is written here once.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, Protocol

import anyio
from anyio.abc import TaskGroup
from pydantic import BaseModel

from kern._private.log import bound_run, get_logger
from kern.db.records import OnBusy, Replay
from kern.db.store import SessionStore
from kern.models.message import Message
from kern.run.active import ActiveRun, RunSpec, execute
from kern.run.events import Emit, RunCompleted, RunError, RunStarted
from kern.run.output import RunMetrics, RunOutput
from kern.run.post_run import PostRun, PostRunPlan, after_run
from kern.session.schema import SessionType
from kern.session.status import RunStatus

log = get_logger(__name__)

Turn = Callable[[ActiveRun, Sequence[Message]], Awaitable[RunOutput]]
"""A runnable's work on a run holding its session, given the history to show the model."""


class Definition(Protocol):
    """What a top-level run reads from the definition it runs."""

    @property
    def component_id(self) -> str: ...
    @property
    def store(self) -> SessionStore: ...

    session_type: ClassVar[SessionType]

    @property
    def session_state(self) -> Mapping[str, Any] | None: ...
    @property
    def overwrite_db_session_state(self) -> bool: ...
    @property
    def add_history_to_context(self) -> bool: ...
    @property
    def num_history_runs(self) -> int: ...
    @property
    def output_schema(self) -> type[BaseModel] | None: ...
    @property
    def on_busy(self) -> OnBusy: ...
    @property
    def busy_timeout(self) -> float: ...
    @property
    def lease_seconds(self) -> float: ...
    @property
    def post_run_plan(self) -> PostRunPlan | None: ...
    @property
    def show_summary(self) -> bool: ...
    @property
    def memory_limit(self) -> int | None: ...


class Call(Protocol):
    """What one call of ``arun`` asked for (kern.run.runnable.RunCall)."""

    @property
    def input(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def session_state(self) -> Mapping[str, Any] | None: ...
    @property
    def dependencies(self) -> Mapping[str, Any]: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...
    @property
    def idempotency_key(self) -> str | None: ...
    @property
    def background(self) -> TaskGroup | None: ...
    @property
    def timeout(self) -> float | None: ...


async def run_top_level(
    definition: Definition,
    call: Call,
    emit: Emit,
    turn: Turn,
    *,
    resume_run_id: str | None = None,
    state_at_checkpoints: bool = True,
) -> RunOutput:
    """Run ``turn`` once as a top-level run of ``definition`` on the call's session.

    With ``resume_run_id``, the run is that stored run continued (a workflow's): its row is reused and
    its opening message is not written again. ``state_at_checkpoints`` is RunSpec's.
    """
    source = definition.component_id
    spec = RunSpec(
        store=definition.store,
        session_type=definition.session_type,
        component_id=source,
        session_id=call.session_id,
        user_id=call.user_id,
        run_id=resume_run_id or str(uuid.uuid4()),
        input=call.input,
        default_state=definition.session_state or {},
        passed_state=call.session_state,
        overwrite_state=definition.overwrite_db_session_state,
        dependencies=call.dependencies,
        metadata=call.metadata,
        messages=(Message(role="user", content=call.input),),
        on_busy=definition.on_busy,
        busy_timeout=definition.busy_timeout,
        lease_seconds=definition.lease_seconds,
        idempotency_key=call.idempotency_key,
        resuming=resume_run_id is not None,
        state_at_checkpoints=state_at_checkpoints,
        with_summary=definition.show_summary,
        memory_limit=definition.memory_limit,
        timeout=call.timeout,
    )
    plan = definition.post_run_plan
    post = PostRun() if plan is not None else None

    async def body(run: ActiveRun) -> RunOutput:
        context = run.context
        await emit(
            RunStarted(run_id=context.run_id, session_id=context.session_id, source=source, input=call.input)
        )
        if context.memory is not None:
            memory = context.memory
            memory.memories[:] = await spec.store.memories_of(memory.user_id, limit=memory.limit)
        history: Sequence[Message] = ()
        if definition.add_history_to_context:
            summary = context.session_summary
            history = await spec.store.history(
                context.session_id,
                context.user_id,
                definition.num_history_runs,
                after=summary.last_run_at if summary is not None else None,
            )
        output = await turn(run, history)
        if post is not None:  # attached before RunCompleted, so a stream's consumer can wait for it too
            output = dataclasses.replace(output, post_run=post)
        log.debug("run.completed", source=source, duration=round(output.metrics.duration, 4))
        await emit(
            RunCompleted(run_id=context.run_id, session_id=context.session_id, source=source, output=output)
        )
        return output

    replays: list[RunOutput] = []

    def replayed(replay: Replay) -> RunOutput:
        replays.append(replayed_output(definition, replay))
        return replays[0]

    with bound_run(run_id=spec.run_id, session_id=spec.session_id):
        try:
            output = await execute(spec, body, replayed)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:  # a SystemExit too: the run ended with it, and says so
            text = f"{type(error).__name__}: {error}"
            status = RunStatus.error.value
            await emit(
                RunError(
                    run_id=spec.run_id, session_id=spec.session_id, source=source, error=text, status=status
                )
            )
            raise
    if replays:
        log.info("run.replayed", run_id=output.run_id, idempotency_key=call.idempotency_key)
        await emit(
            RunCompleted(run_id=output.run_id, session_id=output.session_id, source=source, output=output)
        )
        return output
    if plan is None or post is None:
        return output
    # the summary/memory work after the committed run: now, or in the caller's task group
    work = partial(after_run, plan, spec.store, output, post, memory_user=call.user_id)
    if call.background is not None:
        call.background.start_soon(work)
    else:
        await work()
    return output


def replayed_output(definition: Definition, replay: Replay) -> RunOutput:
    """The output of the recorded run an idempotency key pointed at."""
    run, content = replay.run, replay.run.output
    if definition.output_schema is not None and content is not None:
        content = definition.output_schema.model_validate(content)
    return RunOutput(
        run_id=run.run_id,
        session_id=run.session_id,
        user_id=run.user_id,
        source=run.component_id or definition.component_id,
        status=run.status,
        content=content,
        messages=tuple(replay.messages),
        metrics=RunMetrics.from_json(run.metrics),
        session_state=replay.session.session_state,
    )
