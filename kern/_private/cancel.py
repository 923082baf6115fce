"""A handle to cancel a task that may run on another thread, or not have started yet."""

from __future__ import annotations

import anyio


class CancelHandle:
    """Cancels the cancel scope a task enters with :meth:`scope`, even before the task has entered it.

    :meth:`request` must run on the task's event loop thread (use ``loop.call_soon_threadsafe``).
    """

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None
        self._requested = False

    def scope(self) -> anyio.CancelScope:
        """The scope to run the task's work in."""
        self._scope = anyio.CancelScope()
        if self._requested:
            self._scope.cancel()
        return self._scope

    def request(self) -> None:
        """Cancel the task's scope now, or as soon as it enters it."""
        self._requested = True
        if self._scope is not None:
            self._scope.cancel()
