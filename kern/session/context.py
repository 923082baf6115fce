"""RunContext: everything that belongs to one run, so that definitions stay immutable and shareable.

An Agent, Team or Workflow object can serve any number of concurrent runs; whatever differs between
them (ids, the live session state, dependencies) lives here. Tools receive it by injection. It sits
below the tools, the memory tools and the run engine that use it (``kern.run`` re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from kern.session.schema import SessionSummary, UserMemory

if TYPE_CHECKING:
    from kern.db.store import SessionStore


@dataclass(frozen=True, slots=True, eq=False)
class RunMemory:
    """The user's memories as a run sees them (when the definition uses memories).

    ``memories`` is filled when the run starts and refreshed when the run changes them; the system
    message shows it on every model call.
    """

    store: SessionStore
    user_id: str | None
    """Exactly whose memories: None is the anonymous owner (runs without a user id), never every user."""
    component_id: str | None
    limit: int
    memories: list[UserMemory] = field(default_factory=list[UserMemory])


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
    session_summary: SessionSummary | None = None
    """The session's summary, when the definition shows it (``add_session_summary_to_context``)."""
    memory: RunMemory | None = None
    """The user's memories, when the definition uses them."""
