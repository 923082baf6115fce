"""Running the tool calls of one model turn: concurrently, state-taking calls under the state lock.

Whatever goes wrong in a call (unknown tool, arguments the model got wrong, the tool raising, a value
put in the state that cannot be stored) becomes that call's error result, which the model sees and can
act on; the run goes on. Cancellation is the one thing that is not turned into a result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio

from kern._private.calls import call_user
from kern._private.log import get_logger
from kern.exceptions import ToolCallError
from kern.models.message import ToolCall
from kern.run.active import RunHandle
from kern.run.events import Emit, ToolCallCompleted, ToolCallStarted
from kern.run.output import ToolExecution
from kern.tools import Function, Injected, format_result

log = get_logger(__name__)

Confirm = Callable[[ToolCall], Awaitable[bool] | bool]
"""Asked before a ``requires_confirmation`` tool runs; False refuses the call."""


@dataclass(frozen=True, slots=True)
class ToolBox:
    """The tools a run may call, by name, and how it treats them."""

    functions: Mapping[str, Function]
    source: str
    confirm: Confirm | None = None

    def stops_after(self, executions: Sequence[ToolExecution]) -> bool:
        """True when one of the executed tools ends the run."""
        return any(_flag(self.functions, e, "stop_after_tool_call") for e in executions)

    def shown(self, executions: Sequence[ToolExecution]) -> list[ToolExecution]:
        """The executions whose result is shown to the user."""
        return [e for e in executions if _flag(self.functions, e, "show_result")]


async def run_tool_calls(
    calls: Sequence[ToolCall],
    toolbox: ToolBox,
    run: RunHandle,
    injected: Injected,
    emit: Emit,
    *,
    allowed: int,
) -> list[ToolExecution]:
    """Run ``calls`` concurrently and return their executions in call order.

    Only the first ``allowed`` calls run; the rest get an error result saying the limit was reached.
    """
    executions: list[ToolExecution | None] = [None] * len(calls)

    async def one(index: int, call: ToolCall) -> None:
        executions[index] = await _execute(call, toolbox, run, injected, emit, allowed=index < allowed)

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(calls):
            tg.start_soon(one, index, call)
    return [e for e in executions if e is not None]


async def _execute(
    call: ToolCall, toolbox: ToolBox, run: RunHandle, injected: Injected, emit: Emit, *, allowed: bool
) -> ToolExecution:
    context = run.context
    started = ToolExecution(call_id=call.id, name=call.name, arguments=call.arguments)
    await emit(
        ToolCallStarted(
            run_id=context.run_id, session_id=context.session_id, source=toolbox.source, tool=started
        )
    )
    clock = time.perf_counter()
    try:
        if not allowed:
            raise ToolCallError(f"tool call limit reached: {call.name!r} was not run")
        result, is_error = await _invoke(call, toolbox, run, injected), False
    except anyio.get_cancelled_exc_class():
        raise
    except BaseException as error:  # noqa: BLE001 - the model sees the failure (even a sys.exit) as the result
        result, is_error = _describe(error), True
        log.warning("tool.failed", tool=call.name, call_id=call.id, error=result)
    done = ToolExecution(
        call_id=call.id,
        name=call.name,
        arguments=call.arguments,
        result=result,
        is_error=is_error,
        duration=time.perf_counter() - clock,
    )
    await emit(
        ToolCallCompleted(
            run_id=context.run_id, session_id=context.session_id, source=toolbox.source, tool=done
        )
    )
    return done


async def _invoke(call: ToolCall, toolbox: ToolBox, run: RunHandle, injected: Injected) -> str:
    function = toolbox.functions.get(call.name)
    if function is None:
        known = ", ".join(sorted(toolbox.functions)) or "none"
        raise ToolCallError(f"there is no tool named {call.name!r}; the tools are: {known}")
    if function.requires_confirmation and not await _confirmed(call, toolbox.confirm):
        raise ToolCallError(f"the call to {call.name!r} was not confirmed by the user and did not run")
    if not function.takes_state:
        return format_result(await function.execute(call.arguments, injected))
    async with run.context.state_lock:
        try:
            value = await function.execute(call.arguments, injected)
        finally:
            run.capture_state()
    return format_result(value)


async def _confirmed(call: ToolCall, confirm: Confirm | None) -> bool:
    if confirm is None:
        return False
    return bool(await call_user(confirm, call))  # a sync confirm (input()) runs in a worker thread


def _describe(error: BaseException) -> str:
    if isinstance(error, ToolCallError):
        return f"Error: {error}"
    return f"Error: {type(error).__name__}: {error}"


def _flag(functions: Mapping[str, Function], execution: ToolExecution, name: str) -> bool:
    function = functions.get(execution.name)
    return function is not None and not execution.is_error and bool(getattr(function, name))
