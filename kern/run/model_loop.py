"""The model/tool loop every runnable shares: ask the model, run its tool calls, repeat until it answers.

The prompt is rebuilt before every model call (``prompt()``), so state a tool changed is what the model
sees next. After each batch of tool calls the run checkpoints: a crash loses at most the turn in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from kern.models.base import Model, ModelResponse, ResponseAssembler, ToolDefinition, Usage
from kern.models.message import Message
from kern.models.retry import with_retries
from kern.run.active import RunHandle
from kern.run.events import Emit, RunContent
from kern.run.output import ToolExecution
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
        run.add_message(
            Message(role="assistant", content=response.content, tool_calls=list(response.tool_calls))
        )
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
    """One model call (retried while nothing has reached the consumer), its text emitted as it comes."""
    clock = time.perf_counter()
    emitted = False
    context = run.context
    model, schema = settings.model, settings.output_schema

    async def content(text: str) -> None:
        nonlocal emitted
        if result.time_to_first_token is None:
            result.time_to_first_token = time.perf_counter() - clock
        emitted = True
        source = settings.toolbox.source
        await emit(
            RunContent(run_id=context.run_id, session_id=context.session_id, source=source, content=text)
        )

    async def whole() -> ModelResponse:
        return await model.response(messages, tools=tools, output_schema=schema)

    async def streamed() -> ModelResponse:
        assembler = ResponseAssembler()
        deltas = model.stream(messages, tools=tools, output_schema=schema)
        try:
            async for delta in deltas:
                assembler.add(delta)
                if delta.content:
                    await content(delta.content)
        finally:  # close the provider's stream now, in this task, not whenever it is collected
            if (close := getattr(deltas, "aclose", None)) is not None:
                await close()
        return assembler.build()

    response = await with_retries(
        streamed if settings.stream else whole,
        retries=settings.retries,
        base_delay=model.retry_delay,
        can_retry=lambda: not emitted,
    )
    result.model_calls += 1
    result.usage += response.usage
    if not settings.stream and response.content:
        await content(response.content)
    return response
