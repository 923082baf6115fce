"""Turning a run that emits events into an async iterator of those events.

A run reports progress by awaiting ``emit(event)``; it never yields. :class:`EventStream` runs it in a
task of its own on the caller's event loop and hands each event across a memory stream. Nothing of the
run (its task groups, its cancel scopes) lives in the consumer's task, so a consumer may leave the
loop early however it likes: ``aclose()`` (or ``async with aclosing(...)``) cancels the run and waits
until it has recorded itself as cancelled; an iterator simply dropped (a ``break`` without closing)
cancels the run when it is garbage collected. An exception the run raises is re-raised to the
consumer as itself, after the events that came before it.

The run's task is the one place Kern starts a task that no task group owns: an async iterator has no
scope that outlives a ``yield`` to host it. The iterator owns it instead, and always ends it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from kern._private.cancel import CancelHandle
from kern.run.events import Emit, RunEvent

BUFFER = 64
"""Events the run may get ahead of its consumer before ``emit`` waits."""


class EventStream:
    """The events of one run, as an async iterator that owns the run."""

    def __init__(self, produce: Callable[[Emit], Awaitable[object]]) -> None:
        self._produce = produce
        self._cancel = CancelHandle()
        self._receive: MemoryObjectReceiveStream[RunEvent] | None = None
        self._task: asyncio.Task[None] | None = None
        self._failure: list[BaseException] = []

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> RunEvent:
        receive = self._receive or self._start()
        try:
            return await receive.receive()
        except anyio.EndOfStream:
            await self._finish()
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Stop the run if it is still going, and wait until it has recorded how it ended."""
        if self._task is not None and not self._task.done():
            self._cancel.request()
        await self._finish(raise_failure=False)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _start(self) -> MemoryObjectReceiveStream[RunEvent]:
        send, receive = anyio.create_memory_object_stream[RunEvent](BUFFER)
        loop = asyncio.get_running_loop()
        self._receive = receive
        self._task = loop.create_task(_pump(self._produce, send, self._cancel, self._failure))
        weakref.finalize(self, _abandon, loop, self._cancel, receive)
        return receive

    async def _finish(self, *, raise_failure: bool = True) -> None:
        if self._task is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([self._task])
        if self._receive is not None:
            self._receive.close()
        if raise_failure and self._failure:
            raise self._failure[0]


async def _pump(
    produce: Callable[[Emit], Awaitable[object]],
    send: MemoryObjectSendStream[RunEvent],
    cancel: CancelHandle,
    failure: list[BaseException],
) -> None:
    async with send:
        with cancel.scope():
            try:
                await produce(send.send)
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as error:  # noqa: BLE001 - re-raised to the consumer by EventStream
                failure.append(error)  # a SystemExit too: left in the task, nobody would ever see it


def _abandon(
    loop: asyncio.AbstractEventLoop, cancel: CancelHandle, receive: MemoryObjectReceiveStream[RunEvent]
) -> None:
    """A stream was dropped unclosed: cancel its run and close its end, from whatever thread collects it."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(cancel.request)
        loop.call_soon_threadsafe(receive.close)


def event_stream(produce: Callable[[Emit], Awaitable[object]]) -> EventStream:
    """The events ``produce(emit)`` emits, in order; the run starts on the first ``__anext__``."""
    return EventStream(produce)
