"""Turning a run that emits events into an async iterator of those events.

A run reports progress by awaiting ``emit(event)``; it never yields. :func:`event_stream` runs it in a
task beside the consumer and hands each event across a memory stream, so the run's task groups and
cancel scopes never span a ``yield``. Leaving the iteration early cancels the run (which records itself
as cancelled); an exception the run raises is re-raised to the consumer as is, not as a group.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio

from kern.run.events import Emit, RunEvent


async def event_stream(produce: Callable[[Emit], Awaitable[object]]) -> AsyncGenerator[RunEvent, None]:
    """Run ``produce(emit)`` and yield every event it emits, in order."""
    send, receive = anyio.create_memory_object_stream[RunEvent](max_buffer_size=64)
    failure: list[Exception] = []

    async def pump() -> None:
        async with send:
            try:
                await produce(send.send)
            except Exception as error:  # noqa: BLE001 - re-raised below, in the consumer's task
                failure.append(error)

    async with anyio.create_task_group() as tg, receive:
        tg.start_soon(pump)
        try:
            async for event in receive:
                yield event
        except GeneratorExit:
            tg.cancel_scope.cancel()  # the consumer left: cancel the run and wait for it to record that
            return
    if failure:
        raise failure[0]
