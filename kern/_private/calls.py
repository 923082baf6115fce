"""Calling user code that may be sync or async: the one helper tools and hooks share.

Async callables are awaited on the event loop; sync ones run in a worker thread so they cannot block
it (and if a sync callable returns an awaitable, that is awaited too).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions, async methods, partials of them and objects with an async __call__."""
    call = fn if inspect.isroutine(fn) else type(fn).__call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


async def call_user(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)``: awaited if async, in a worker thread if sync."""
    if is_async_callable(fn):
        return await fn(*args, **kwargs)
    result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    return await result if inspect.isawaitable(result) else result
