"""The lifecycle of a run, as stored in the ``runs`` table."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is in its life. Terminal statuses never change again."""

    running = "running"
    completed = "completed"
    error = "error"
    cancelled = "cancelled"
    abandoned = "abandoned"
    """The process running it died; its claim expired and another run took the session over."""

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change."""
        return self is not RunStatus.running
