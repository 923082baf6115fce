"""Driving Kern's one async implementation from synchronous code.

``run``, ``print_response`` and the other sync faces are thin wrappers over their async twins. They run
them on one private event loop, created on first use and reused for the life of the process (pooled
database engines and HTTP clients are bound to the loop that created them, so a loop per call would
break them). The loop lives in a daemon thread, which is what lets a sync face work from code that is
already inside a running event loop (a notebook, an async service calling sync code): the caller's
thread just waits. Every call becomes a task of one long-lived anyio ``BlockingPortal`` on that loop,
so anyio's worker threads (sync tools, sync database faces) are reused from call to call. Ctrl-C in the
waiting thread cancels the async work (which records the run as cancelled) before the
KeyboardInterrupt propagates.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, cast

import anyio
from anyio.from_thread import BlockingPortal

from kern._private.cancel import CancelHandle
from kern.exceptions import UsageError

T = TypeVar("T")

_lock = threading.Lock()
_private: tuple[asyncio.AbstractEventLoop, BlockingPortal] | None = None


def run_sync(call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call()`` on Kern's private loop and return its result (or raise its exception)."""
    cancel = CancelHandle()

    async def main() -> T:
        with cancel.scope():
            try:
                return await call()
            except (SystemExit, KeyboardInterrupt) as exit_:
                raise _Carried(exit_) from exit_  # raised as itself in the caller, never on the loop
        raise _Interrupted  # only reached after Ctrl-C in the waiting thread, which raises that instead

    return _wait(_portal().start_task_soon(main), cancel)


def iterate_sync(stream: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate the async iterator ``stream()`` from sync code, item by item.

    The async iterator runs to completion in one task on the private loop; closing the returned
    iterator early cancels it.
    """
    items: queue.Queue[_Item[T]] = queue.Queue()
    cancel = CancelHandle()

    async def pump() -> None:
        with cancel.scope():
            try:
                iterator = stream()
                try:
                    async for item in iterator:
                        items.put(_Item(value=item))
                finally:
                    if (close := getattr(iterator, "aclose", None)) is not None:
                        await close()
            except Exception as error:  # noqa: BLE001 - handed to the consuming thread, which raises it
                items.put(_Item(error=error))
            except (SystemExit, KeyboardInterrupt) as exit_:  # raised in the consumer, never on the loop
                items.put(_Item(error=_Carried(exit_)))
            finally:
                items.put(_Item(done=True))

    future = _portal().start_task_soon(pump)
    finished = False
    try:
        while not (item := items.get()).done:
            if isinstance(item.error, _Carried):
                raise item.error.exit
            if item.error is not None:
                raise item.error
            yield cast(T, item.value)
        finished = True
    finally:
        _wait(future, cancel, cancel_first=not finished)


class _Item(Generic[T]):
    """One message from the pumping task: a value, the stream's exception, or the end."""

    __slots__ = ("done", "error", "value")

    def __init__(self, value: T | None = None, error: Exception | None = None, done: bool = False) -> None:
        self.value = value
        self.error = error
        self.done = done


class _Interrupted(Exception):
    """The task was cancelled from the waiting thread."""


class _Carried(Exception):
    """Carries a SystemExit or KeyboardInterrupt raised by the async work to the waiting thread.

    Raised as themselves on the event loop, they would stop the loop for every later call.
    """

    def __init__(self, exit_: SystemExit | KeyboardInterrupt) -> None:
        super().__init__(repr(exit_))
        self.exit = exit_


def _wait(future: Future[T], cancel: CancelHandle, *, cancel_first: bool = False) -> T:
    loop, _ = _started()
    if cancel_first:
        loop.call_soon_threadsafe(cancel.request)
    try:
        return future.result()
    except _Carried as carried:
        raise carried.exit from None
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(cancel.request)
        _settle(future)
        raise


def _settle(future: Future[Any]) -> None:
    """Wait for a cancelled task to finish its cleanup (a shielded commit); a second Ctrl-C stops waiting.

    Its outcome is dropped on purpose: the caller re-raises the KeyboardInterrupt that cancelled it.
    """
    try:
        future.result()
    except BaseException:  # noqa: BLE001 - the cancelled task's ending, superseded by the KeyboardInterrupt
        return  # (a second Ctrl-C lands here too: it stops the wait)


def _portal() -> BlockingPortal:
    """The portal of the private loop, refusing callers that run on that loop (they would deadlock)."""
    loop, portal = _started()
    if _on_loop_thread(loop):
        raise UsageError(
            "a sync Kern method was called from inside Kern's own event loop (an async tool or hook?); "
            "await its async twin (arun, aprint_response, ...) instead"
        )
    return portal


def _started() -> tuple[asyncio.AbstractEventLoop, BlockingPortal]:
    global _private
    with _lock:
        if _private is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=_drive, args=(loop,), name="kern-loop", daemon=True).start()
            ready: Future[BlockingPortal] = Future()
            asyncio.run_coroutine_threadsafe(_serve(ready), loop)
            _private = (loop, ready.result())
        return _private


def _drive(loop: asyncio.AbstractEventLoop) -> None:
    """Run the private loop for good: nothing raised through it (a stray SystemExit) may stop it."""
    while True:
        try:
            loop.run_forever()
        except BaseException:  # noqa: BLE001 - already delivered to the task's caller; keep serving
            continue


def _forget_after_fork() -> None:
    """A forked child has no loop thread: it starts its own private loop on first use."""
    global _private
    _private = None


os.register_at_fork(after_in_child=_forget_after_fork)


async def _serve(ready: Future[BlockingPortal]) -> None:
    """The private loop's one root task: it hosts every sync call, for the life of the process."""
    async with BlockingPortal() as portal:
        ready.set_result(portal)
        await anyio.sleep_forever()


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
