"""What the runtime hands to the store and gets back when it claims and commits a session."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from kern.models.message import Message
from kern.session.schema import RunRecord, Session

OnBusy = Literal["wait", "reject"]
RunWriteMode = Literal["upsert", "insert", "update", "resume"]


class AnyOwner(enum.Enum):
    """The type of :data:`ANY_USER`, a value of its own so that no user id can ever mean it."""

    ANY_USER = "any user"


ANY_USER: Final = AnyOwner.ANY_USER
"""No owner filter: every user's rows, the management API's administrator view.

Only the management faces pass it, for their documented ``user_id=None`` (``db.get_session(sid)``).
Runtime store calls (claim, history, summaries, a run's memories, a resume's journal) take an exact
:data:`Owner` and their types refuse this value.
"""

Owner: TypeAlias = str | None
"""Exactly who owns a row: a user id, or None for the anonymous owner (SQL NULL, matched with IS NULL).

None never means "anyone": the anonymous owner's rows are reachable by no user id a caller can pass.
"""

OwnerFilter: TypeAlias = Owner | AnyOwner
"""What a management query filters on: an exact owner, or :data:`ANY_USER` (no filter)."""


def owner_or_any(user_id: str | None) -> OwnerFilter:
    """The management faces' ``user_id`` argument as a filter: None (not given) is :data:`ANY_USER`."""
    return ANY_USER if user_id is None else user_id


@dataclass(frozen=True, slots=True)
class Claim:
    """A run's exclusive lease on a session.

    ``token`` is the fencing token: every commit carries it and is refused once another run has
    claimed the session since. ``state_snapshot`` is the encoded state the run started from, the base
    its state changes are computed against. ``lease_seconds`` is the lease length the claim was taken
    with; renewals and commits extend the lease by that much.
    """

    session_id: str
    run_id: str
    user_id: str | None
    token: int
    expires_at: float
    lease_seconds: float
    session: Session
    state_snapshot: dict[str, Any]
    created: bool
    abandoned_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Replay:
    """The session already has a completed run with the idempotency key asked for: here it is.

    No claim was taken. ``messages`` are that run's, ``session`` the session as it stands now.
    """

    run: RunRecord
    messages: list[Message]
    session: Session


@dataclass(frozen=True, slots=True)
class Busy:
    """The session is held by another run until ``expires_at`` (unix seconds)."""

    holder_run_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class RunWrite:
    """One run row to upsert at commit, with the messages it added since its last commit.

    ``first_seq`` is the position of ``messages[0]`` within the run, so repeated commits append.
    ``mode`` says what is known of the row: ``"upsert"`` (nothing), ``"insert"`` (a new run: the row
    cannot exist yet) or ``"update"`` (the run wrote its row before); the last two skip the upsert.
    ``"resume"`` updates a stored run that did not complete (a workflow run resumed), and raises
    WorkflowError if it completed meanwhile.
    """

    run: RunRecord
    messages: Sequence[Message] = field(default_factory=tuple[Message, ...])
    first_seq: int = 0
    mode: RunWriteMode = "upsert"
