"""The lifecycle of a run and of a workflow step, as stored in the ``runs`` and ``workflow_steps`` tables.

A leaf module: the store, the session schema and the run engine all use these, so they sit at the
bottom of the layers (``kern.run`` re-exports them).
"""

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


class StepStatus(StrEnum):
    """Where a workflow step is, as its journal row says."""

    running = "running"
    completed = "completed"
    error = "error"
    """The step failed and failed the run with it; a resumed run runs it again."""
    continued = "continued"
    """The step failed and ``on_error="continue"`` passed its failure on to the next step."""
    skipped = "skipped"
    """The step failed and ``on_error="skip"`` let the run go on as if it had not run."""
    cancelled = "cancelled"

    @property
    def is_done(self) -> bool:
        """True when a resumed run reuses the step's recorded outcome instead of running it again."""
        return self in (StepStatus.completed, StepStatus.continued, StepStatus.skipped)
