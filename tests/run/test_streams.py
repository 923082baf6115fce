"""Turning an emitting run into an async iterator of its events."""

from __future__ import annotations

import anyio
import pytest

from kern.run.events import Emit, RunContent
from kern.run.streams import event_stream


def _content(text: str) -> RunContent:
    return RunContent(run_id="r", session_id="s", source="a", content=text)


@pytest.mark.anyio
async def test_events_arrive_in_order() -> None:
    """Every emitted event is yielded, in order."""

    async def produce(emit: Emit) -> None:
        for text in "abc":
            await emit(_content(text))

    assert [e.content async for e in event_stream(produce) if isinstance(e, RunContent)] == ["a", "b", "c"]


@pytest.mark.anyio
async def test_producer_exception_is_raised_as_itself() -> None:
    """The run's exception reaches the consumer unwrapped (not as an exception group)."""

    async def produce(emit: Emit) -> None:
        await emit(_content("a"))
        raise LookupError("gone")

    with pytest.raises(LookupError, match="gone"):
        async for _ in event_stream(produce):
            pass


@pytest.mark.anyio
async def test_leaving_early_cancels_the_producer() -> None:
    """Closing the iterator after one event cancels the run producing them."""
    cancelled = anyio.Event()

    async def produce(emit: Emit) -> None:
        try:
            while True:
                await emit(_content("x"))
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise

    stream = event_stream(produce)
    await stream.__anext__()
    await stream.aclose()
    assert cancelled.is_set()
