"""Waking, in this process, the next run waiting for a session the moment it is released.

Runs that find a session held poll the database with a growing delay (that is what works across
processes). Within one process a release need not wait for a poll: the waiters of each session queue
here, first come first served, and a release wakes the first of them on its own event loop. Polling
stays as the fallback, so a waiter that is woken late (or never: another process released) still claims.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Generator
from contextlib import contextmanager

import anyio


class Waiter:
    """One claim waiting for a session, woken on the event loop it waits on."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = anyio.Event()

    async def wait(self, seconds: float) -> None:
        """Wait until woken, or ``seconds`` have passed."""
        with anyio.move_on_after(seconds):
            await self._event.wait()
        self._event = anyio.Event()

    def wake(self) -> None:
        """Wake the waiter, from any thread."""
        event = self._event
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(event.set)


class SessionWaiters:
    """The queues of waiters, by session id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Waiter]] = {}

    @contextmanager
    def queued(self, session_id: str) -> Generator[Waiter, None, None]:
        """A waiter queued for ``session_id`` until the block ends."""
        waiter = Waiter()
        with self._lock:
            self._queues.setdefault(session_id, deque()).append(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                queue = self._queues.get(session_id)
                if queue is not None:
                    if waiter in queue:
                        queue.remove(waiter)
                    if not queue:
                        del self._queues[session_id]

    def is_first(self, session_id: str, waiter: Waiter) -> bool:
        """True when ``waiter`` is next in line for the session."""
        with self._lock:
            queue = self._queues.get(session_id)
            return bool(queue) and queue[0] is waiter

    def released(self, session_id: str) -> None:
        """The session was released: wake the first waiter in line."""
        with self._lock:
            queue = self._queues.get(session_id)
            first = queue[0] if queue else None
        if first is not None:
            first.wake()
