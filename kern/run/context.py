"""RunContext: everything that belongs to one run, so that definitions stay immutable and shareable.

An Agent, Team or Workflow object can serve any number of concurrent runs; whatever differs between
them (ids, the live session state, dependencies) lives here. Tools receive it by injection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio


@dataclass(frozen=True, slots=True, eq=False)
class RunContext:
    """One run's identity and live data.

    ``session_state`` is the live dict of the session: what a tool changes in it is what the run
    commits. ``state_lock`` is held around every tool call that takes the state, so concurrent tool
    calls (and team members) never interleave their changes.
    """

    run_id: str
    session_id: str
    user_id: str | None
    session_state: dict[str, Any]
    dependencies: dict[str, Any] = field(default_factory=dict[str, Any])
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    state_lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)
