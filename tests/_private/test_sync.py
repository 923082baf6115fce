"""Driving async code from sync code on Kern's private loop."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator

import anyio
import pytest

from kern._private.sync import iterate_sync, run_sync
from kern.exceptions import UsageError


async def _loop_thread() -> int:
    return threading.get_ident()


def test_run_sync_returns_the_result_on_one_reused_loop() -> None:
    """Every call runs on the same private loop thread, not the caller's."""
    first, second = run_sync(_loop_thread), run_sync(_loop_thread)
    assert first == second != threading.get_ident()


def test_run_sync_raises_the_coroutines_exception() -> None:
    """The exception raised by the async code reaches the caller unchanged."""
    error = KeyError("x")

    async def fail() -> None:
        raise error

    with pytest.raises(KeyError) as caught:
        run_sync(fail)
    assert caught.value is error


@pytest.mark.anyio
async def test_run_sync_works_inside_a_running_loop() -> None:
    """Called from a coroutine (a notebook cell, an async service), it still returns."""
    assert run_sync(_loop_thread) != threading.get_ident()


def test_run_sync_from_the_private_loop_is_a_usage_error() -> None:
    """Calling a sync face from Kern's own loop would deadlock, so it raises instead."""

    async def nested() -> None:
        run_sync(_loop_thread)

    with pytest.raises(UsageError, match="await its async twin"):
        run_sync(nested)


def test_iterate_sync_yields_every_item() -> None:
    """The async generator's items arrive in order."""

    async def numbers() -> AsyncGenerator[int, None]:
        for n in range(5):
            yield n

    assert list(iterate_sync(numbers)) == [0, 1, 2, 3, 4]


def test_iterate_sync_raises_the_generators_exception_after_its_items() -> None:
    """Items before the failure are delivered, then the exception is raised."""
    seen: list[int] = []

    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("broken")

    def consume() -> None:
        for item in iterate_sync(failing):
            seen.append(item)

    with pytest.raises(ValueError, match="broken"):
        consume()
    assert seen == [1]


def test_closing_the_iterator_early_cancels_the_generator() -> None:
    """Leaving the loop early cancels the async side and lets its cleanup run first."""
    cleaned = threading.Event()

    async def endless() -> AsyncGenerator[int, None]:
        try:
            n = 0
            while True:
                yield n
                n += 1
                await anyio.lowlevel.checkpoint()
        finally:
            cleaned.set()

    iterator = iterate_sync(endless)
    assert next(iterator) == 0
    iterator.close()  # type: ignore[attr-defined]
    assert cleaned.is_set()
