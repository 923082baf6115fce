"""The model/tool loop every runnable shares: ask the model, run its tool calls, repeat until it answers.

The prompt is rebuilt before every model call (``prompt()``), so state a tool changed is what the model
sees next. After each batch of tool calls the run checkpoints: a crash loses at most the turn in flight.
Each model call goes through :func:`kern.models.call.call_model` (retries, the model's timeout) and its
answer becomes the assistant message through :func:`kern.models.answer.answer_message` (a tool call cut
off by ``max_tokens`` raises ModelOutputError there; arguments that are not JSON are never sent back).
The run's ``metrics`` are kept up to date after every call, so a run that fails still stores what the
calls before the failure consumed; text the model produced before a failure (a stream that broke, an
answer cut off) is added to the run as a last assistant message with ``metadata["incomplete"]`` saying
why, so the failed run's stored messages keep it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from kern.exceptions import ModelError
from kern.models.answer import answer_message
from kern.models.base import Model, ModelResponse, ToolDefinition, Usage
from kern.models.call import call_model
from kern.models.message import Message
from kern.run.active import RunHandle
from kern.run.events import Emit, RunContent
from kern.run.output import RunMetrics, ToolExecution
from kern.run.tool_calls import ToolBox, run_tool_calls
from kern.tools import Injected


@dataclass(frozen=True, slots=True)
class LoopSettings:
    """How the loop calls the model."""

    model: Model
    toolbox: ToolBox
    retries: int
    stream: bool = False
    output_schema: type[BaseModel] | None = None
    tool_call_limit: int | None = None


@dataclass(slots=True)
class LoopResult:
    """What the loop produced: the final text, the tool calls made, and what it cost."""

    content: str | None = None
    tools: list[ToolExecution] = field(default_factory=list[ToolExecution])
    usage: Usage = field(default_factory=Usage)
    model_calls: int = 0
    time_to_first_token: float | None = None
    finish_reasons: list[str | None] = field(default_factory=list[str | None])

    def metrics(self, duration: float = 0.0) -> RunMetrics:
        """The run's metrics as they stand."""
        return RunMetrics(
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            model_calls=self.model_calls,
            tool_calls=len(self.tools),
            duration=duration,
            time_to_first_token=self.time_to_first_token,
            finish_reasons=tuple(self.finish_reasons),
        )


async def run_model_loop(
    settings: LoopSettings,
    run: RunHandle,
    prompt: Callable[[], list[Message]],
    injected: Injected,
    emit: Emit,
) -> LoopResult:
    """Call the model and its tools until it answers without tool calls (or a tool ends the run)."""
    result = LoopResult()
    definitions = [f.definition for f in settings.toolbox.functions.values()]
    while True:
        limit = settings.tool_call_limit
        remaining = None if limit is None else limit - len(result.tools)
        offered = definitions if remaining is None or remaining > 0 else []
        response = await _call_model(settings, prompt(), offered, run, emit, result)
        if not response.tool_calls:
            result.content = response.content
            return result
        exhausted = remaining is not None and remaining <= 0
        executions = await run_tool_calls(
            response.tool_calls,
            settings.toolbox,
            run,
            injected,
            emit,
            allowed=len(response.tool_calls) if remaining is None else max(remaining, 0),
        )
        result.tools.extend(executions)
        run.metrics = result.metrics()
        for execution in executions:
            run.add_message(
                Message(
                    role="tool", content=execution.result, tool_call_id=execution.call_id, name=execution.name
                )
            )
        await run.checkpoint()
        if exhausted:  # called tools it was no longer offered: end here rather than loop on refusals
            result.content = response.content
            return result
        if settings.toolbox.stops_after(executions):
            shown = settings.toolbox.shown(executions) or executions
            result.content = "\n".join(e.result or "" for e in shown)
            return result


async def _call_model(
    settings: LoopSettings,
    messages: Sequence[Message],
    tools: Sequence[ToolDefinition],
    run: RunHandle,
    emit: Emit,
    result: LoopResult,
) -> ModelResponse:
    """One model call, its answer added to the run as the assistant message, its text emitted as it
    comes (or at once for a whole answer); its usage and finish reason counted in ``result`` and in
    the run's metrics even when the answer cannot be used."""
    clock = time.perf_counter()
    context = run.context
    model = settings.model

    async def content(text: str) -> None:
        if result.time_to_first_token is None:
            result.time_to_first_token = time.perf_counter() - clock
        source = settings.toolbox.source
        await emit(
            RunContent(run_id=context.run_id, session_id=context.session_id, source=source, content=text)
        )

    try:
        response = await call_model(
            model,
            messages,
            tools=tools,
            output_schema=settings.output_schema,
            stream=settings.stream,
            on_text=content,
            retries=settings.retries,
        )
        result.model_calls += 1
        result.usage += response.usage
        result.finish_reasons.append(response.finish_reason)
        run.metrics = result.metrics()
        message = answer_message(response, model)
    except ModelError as error:
        if error.partial_content:  # what the model had said stays on the failed run
            metadata = {"incomplete": f"{type(error).__name__}: {error}"}
            run.add_message(Message(role="assistant", content=error.partial_content, metadata=metadata))
        raise
    run.add_message(message)
    if not settings.stream and response.content:
        await content(response.content)
    return response
