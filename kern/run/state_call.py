"""The state call: the one way user code that receives the session state runs (tools, hooks, steps).

A call that receives ``session_state`` or ``run_context`` holds the session's state lock while it runs,
so no other call, member or branch sees its changes half-made. It is all or nothing: if it raises, is
cancelled or times out, the live state is put back as it was when the call started; if it returns,
its changes are checked storable (kern.session.codec) and become the run's last good state.

A sync function runs in a worker thread, and a thread cannot be stopped. Under a deadline (a tool's
timeout, a run's), the caller stops waiting for a timed-out thread, so such a call works on a copy
of the state that replaces the live state only when it returns in time: a thread that outlives its
call can never change the run's state. A sync function the user marked inline runs on the event loop
and cannot outlive its call, so it works on the live state (``in_thread=False``), as async ones do.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any

from kern._private.calls import call_with, is_async_callable, under_deadline
from kern.run.active import RunHandle
from kern.session.context import RunContext
from kern.tools.injection import Injected, Plan, takes_state


@asynccontextmanager
async def state_call(run: RunHandle, *, in_thread: bool) -> AsyncGenerator[RunContext]:
    """Hold the state lock around one call; yields the context the call is given.

    ``in_thread``: the callable is sync and not inline (it will run in a worker thread).
    """
    context = run.context
    async with context.state_lock:
        given = context
        if in_thread and under_deadline():
            given = dataclasses.replace(context, session_state=copy.deepcopy(context.session_state))
        try:
            yield given
        except BaseException:
            run.restore_state()
            raise
        if given is not context:
            context.session_state.clear()
            context.session_state.update(given.session_state)
        run.capture_state()


async def call_injected(
    run: RunHandle,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    injected: Injected,
    plan: Plan,
    *,
    inline: bool = False,
) -> Any:
    """Call user code (a hook, a workflow function) with ``args`` and what ``plan`` injects; one that
    takes the state runs as a state call. ``inline``: a sync ``fn`` runs on the event loop."""
    if not takes_state(plan):
        return await call_with(fn, args, injected.kwargs(plan), inline=inline)
    in_thread = not inline and not is_async_callable(fn)
    async with state_call(run, in_thread=in_thread) as context:
        return await call_with(fn, args, injected.with_context(context).kwargs(plan), inline=inline)
