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
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from kern._private.calls import under_deadline
from kern.run.active import RunHandle
from kern.session.context import RunContext


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
