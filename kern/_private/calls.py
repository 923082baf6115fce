"""Calling user code that may be sync or async: the one helper tools, hooks and steps share.

Async callables are awaited on the event loop; sync ones run in a worker thread so they cannot block
it (and if a sync callable returns an awaitable, that is awaited too). A thread cannot be stopped:
under a deadline (a tool's timeout, a run's), a cancelled call stops waiting for its thread and
returns on time, the thread finishing on its own; without one, cancellation waits for the thread, so
nothing it does happens after the call is over.

A sync callable the user marked ``inline`` (``@tool(inline=True)``, ``Step(..., inline=True)``) is
called directly on the event loop instead, saving the thread hop (~0.1 ms): it blocks the loop while it
runs, and nothing can interrupt it, so a deadline only applies once it has returned.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions, async methods, partials of them and objects with an async __call__."""
    call = fn if inspect.isroutine(fn) else type(fn).__call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def under_deadline() -> bool:
    """True when an enclosing cancel scope has a deadline (a timeout applies to the calling code)."""
    return anyio.current_effective_deadline() != math.inf


async def call_user(fn: Callable[..., Any], /, *args: Any, inline: bool = False, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)``: awaited if async, in a worker thread if sync (on the loop if ``inline``).

    ``inline`` is this helper's own keyword: to pass arbitrary keyword arguments (a tool's, named by the
    model), use :func:`call_with`.
    """
    return await call_with(fn, args, kwargs, inline=inline)


async def call_with(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], *, inline: bool = False
) -> Any:
    """:func:`call_user` with the arguments as a tuple and a mapping, so no keyword is reserved."""
    if is_async_callable(fn):
        return await fn(*args, **kwargs)
    if inline:
        result = fn(*args, **kwargs)
    else:
        result = await anyio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), abandon_on_cancel=under_deadline()
        )
    return await result if inspect.isawaitable(result) else result
