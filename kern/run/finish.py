"""Turning a finished model/tool loop into the run's committed output, the same for every runnable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import anyio
import pydantic

from kern.exceptions import ModelOutputError
from kern.models.answer import truncation_note
from kern.models.structured import strip_fence
from kern.run.active import RunHandle
from kern.run.model_loop import LoopResult, LoopSettings
from kern.run.output import RunOutput
from kern.session.schema import StepRecord
from kern.session.status import RunStatus


def loop_output(
    run: RunHandle,
    settings: LoopSettings,
    result: LoopResult,
    *,
    source: str,
    member_responses: tuple[RunOutput, ...] = (),
) -> RunOutput:
    """The run's output once its loop answered; the content parsed into ``output_schema`` if any."""
    context = run.context
    return RunOutput(
        run_id=context.run_id,
        session_id=context.session_id,
        user_id=context.user_id,
        source=source,
        status=RunStatus.completed,
        content=_content(settings, result),
        messages=tuple(run.messages),
        tools=tuple(result.tools),
        metrics=result.metrics(duration=time.time() - run.started_at),
        session_state=run.state_snapshot(),
        parent_run_id=run.spec.parent_run_id,
        member_responses=member_responses,
    )


async def commit_completed(
    run: RunHandle, output: RunOutput, *, steps: Sequence[StepRecord] = ()
) -> RunOutput:
    """Commit the run as completed with its output (shielded: an answer given is kept), and ``steps``
    (a workflow's journal rows) in the same transaction."""
    content = output.content
    stored = content.model_dump(mode="json") if isinstance(content, pydantic.BaseModel) else content
    with anyio.CancelScope(shield=True):
        await run.checkpoint(
            RunStatus.completed, output=stored, metrics=output.metrics.to_json(), steps=steps
        )
    return dataclasses.replace(output, messages=tuple(run.messages), session_state=run.state_snapshot())


def _content(settings: LoopSettings, result: LoopResult) -> Any:
    schema = settings.output_schema
    if schema is None or result.content is None:
        return result.content
    try:
        return schema.model_validate_json(strip_fence(result.content))
    except pydantic.ValidationError as error:
        model = settings.model
        note = truncation_note(result.finish_reasons[-1] if result.finish_reasons else None)
        raise ModelOutputError(
            f"the answer of {model.describe()} does not match {schema.__name__}{note}: {error}",
            model=model.id,
        ) from error
