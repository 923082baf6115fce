"""Running the tool calls of one model turn: concurrently, state-taking calls under the state lock.

Whatever goes wrong in a call (unknown tool, arguments the model got wrong, the tool raising an
``Exception``, a value put in the state that cannot be stored, the call taking longer than its timeout)
becomes that call's error result, which the model sees and can act on; the run goes on, and a failed
call's changes to the state are undone (kern.run.state_call). Cancellation and the exceptions that are
not ``Exception``s (``SystemExit``, ``KeyboardInterrupt``) are never turned into a result: they end the
run, which records them, and reach the caller as themselves.
"""

from __future__ import annotations

import math
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
from kern.run.state_call import state_call
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
    timeout: float | None = None
    """Seconds a tool call may take, unless its Function says otherwise (None: no limit)."""

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
    fatal: list[BaseException] = []

    async def one(index: int, call: ToolCall) -> None:
        try:
            executions[index] = await _execute(call, toolbox, run, injected, emit, allowed=index < allowed)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:  # noqa: BLE001 - a SystemExit & co: re-raised below, as itself
            fatal.append(error)
            tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(calls):
            tg.start_soon(one, index, call)
    if fatal:
        raise fatal[0]
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
    except Exception as error:  # noqa: BLE001 - the model sees the failure as the call's result
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
    timeout = function.timeout if function.timeout is not None else toolbox.timeout
    with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
        if not function.takes_state:
            value = await function.execute(call.arguments, injected)
            _check_inline_deadline(function, timeout, scope.deadline)
            return format_result(value)
        async with state_call(run, in_thread=function.in_thread) as context:
            value = await function.execute(call.arguments, injected.with_context(context))
            # inside the state call: a late inline call's state changes are undone
            _check_inline_deadline(function, timeout, scope.deadline)
        return format_result(value)
    assert scope.cancelled_caught
    assert timeout is not None
    raise ToolCallError(_timed_out(function, timeout))


def _check_inline_deadline(function: Function, timeout: float | None, deadline: float) -> None:
    """An inline sync call cannot be interrupted: one that returned after its timeout fails then."""
    if timeout is not None and function.inline and not function.is_async and anyio.current_time() >= deadline:
        raise ToolCallError(
            f"{function.name!r} did not finish within {timeout:g}s; it ran inline on the event loop, which "
            "cannot be interrupted, so its result was dropped when it returned"
            + ("; its changes to the session state were undone." if function.takes_state else ".")
        )


def _timed_out(function: Function, timeout: float) -> str:
    undone = " its changes to the session state were undone." if function.takes_state else ""
    if not function.in_thread:  # async, or inline and stopped before it started (waiting for the state)
        return f"{function.name!r} did not finish within {timeout:g}s and was stopped;{undone}"
    return (
        f"{function.name!r} did not finish within {timeout:g}s; it runs in a worker thread, which cannot "
        f"be stopped, so it may still finish on its own, but the run no longer waits for it;{undone}"
    )


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
