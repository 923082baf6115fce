"""Users are isolated in SQL: with a user_id, another user's sessions can be neither seen nor changed."""

from __future__ import annotations

from typing import Any

import pytest

from kern.db.base import BaseDb
from kern.exceptions import SessionOwnershipError, UsageError
from kern.session import Session, SessionType

pytestmark = pytest.mark.anyio

AGENT = SessionType.AGENT

MISMATCHED_OWNERS = pytest.mark.parametrize(
    ("owner", "caller"),
    [("alice", "bob"), (None, "alice"), ("alice", None)],
    ids=["other-user", "user-on-ownerless", "no-user-on-owned"],
)


async def new_session(api: Any, session_id: str, user_id: str | None, **fields: Any) -> Session:
    """Create an agent session owned by ``user_id``."""
    return await api.create_session(session_id, AGENT, user_id=user_id, **fields)


async def stored(api: Any, session_id: str) -> Session:
    """The session as an administrator (no owner filter) sees it; it must exist."""
    session = await api.get_session(session_id)
    assert session is not None, f"session {session_id!r} is gone"
    return session


# --- reads --------------------------------------------------------------------------------------------------


async def test_get_session_hides_another_users_session(api: Any) -> None:
    """get_session with user_id returns None for another user's session and the session for its owner."""
    await new_session(api, "s1", "alice")

    assert await api.get_session("s1", AGENT, "bob") is None
    owned = await api.get_session("s1", AGENT, "alice")
    assert owned is not None
    assert owned.user_id == "alice"


async def test_get_session_with_user_hides_ownerless_session(api: Any) -> None:
    """A session created without a user is not any user's: get_session with a user_id returns None."""
    await new_session(api, "s1", None)

    assert await api.get_session("s1", AGENT, "alice") is None


async def test_get_sessions_with_user_lists_only_their_sessions(api: Any) -> None:
    """get_sessions with user_id never lists another user's or an ownerless session, whatever else matches."""
    await new_session(api, "a1", "alice", session_name="Shared plan")
    await new_session(api, "a2", "alice", session_name="Mine")
    await new_session(api, "b1", "bob", session_name="Shared plan")
    await new_session(api, "n1", None, session_name="Shared plan")

    alice = await api.get_sessions(user_id="alice")
    assert sorted(s.session_id for s in alice) == ["a1", "a2"]
    assert [s.session_id for s in await api.get_sessions(user_id="alice", session_name="shared")] == ["a1"]
    assert await api.get_sessions(user_id="carol") == []


async def test_get_runs_with_user_hides_another_users_runs(api: Any, add_run: Any) -> None:
    """get_runs with a user_id that does not own the session returns no runs."""
    await new_session(api, "s1", "alice")
    await add_run("s1", "r1", "hi", user_id="alice")

    assert await api.get_runs("s1", "bob") == []
    assert [r.run_id for r in await api.get_runs("s1", "alice")] == ["r1"]


# --- writes through the management API ----------------------------------------------------------------------


@pytest.mark.parametrize("owner", ["alice", None], ids=["other-user", "ownerless"])
async def test_rename_session_not_owned_raises_and_changes_nothing(api: Any, owner: str | None) -> None:
    """Renaming a session the user does not own raises SessionOwnershipError and leaves it as it was."""
    await new_session(api, "s1", owner, session_name="Original")
    before = await stored(api, "s1")

    with pytest.raises(SessionOwnershipError) as raised:
        await api.rename_session("s1", AGENT, "Hijacked", "bob")

    assert raised.value.session_id == "s1"
    assert await stored(api, "s1") == before


async def test_delete_session_of_another_user_raises_and_keeps_it(api: Any, add_run: Any) -> None:
    """Deleting another user's session raises SessionOwnershipError and keeps it, its runs and messages."""
    await new_session(api, "s1", "alice")
    await add_run("s1", "r1", "hi", "hello", user_id="alice")
    before = await stored(api, "s1")

    with pytest.raises(SessionOwnershipError) as raised:
        await api.delete_session("s1", "bob")

    assert raised.value.session_id == "s1"
    after = await stored(api, "s1")
    assert after == before
    assert [m.content for m in after.messages] == ["hi", "hello"]
    assert [r.run_id for r in after.runs] == ["r1"]


async def test_delete_sessions_of_another_user_raises_and_keeps_them(api: Any) -> None:
    """delete_sessions on another user's sessions raises SessionOwnershipError and deletes none."""
    await new_session(api, "a1", "alice")
    await new_session(api, "a2", "alice")

    with pytest.raises(SessionOwnershipError):
        await api.delete_sessions(["a1", "a2"], "bob")

    assert sorted(s.session_id for s in await api.get_sessions()) == ["a1", "a2"]


async def test_delete_sessions_mixing_own_and_foreign_deletes_none(api: Any, add_run: Any) -> None:
    """delete_sessions with one foreign id among the caller's own raises and deletes none of them."""
    await new_session(api, "b1", "bob")
    await new_session(api, "b2", "bob")
    await new_session(api, "a1", "alice")
    await add_run("b1", "r1", "keep me", user_id="bob")

    with pytest.raises(SessionOwnershipError) as raised:
        await api.delete_sessions(["b1", "a1", "b2"], "bob")

    assert raised.value.session_id == "a1"
    assert sorted(s.session_id for s in await api.get_sessions()) == ["a1", "b1", "b2"]
    assert [m.content for m in (await stored(api, "b1")).messages] == ["keep me"]


# --- creating and claiming an existing session --------------------------------------------------------------


@MISMATCHED_OWNERS
async def test_create_session_owned_by_someone_else_raises(
    api: Any, owner: str | None, caller: str | None
) -> None:
    """create_session on an existing id with a different owner (None included) raises and writes nothing."""
    await new_session(api, "s1", owner, session_state={"secret": 1}, session_name="Original")
    before = await stored(api, "s1")

    with pytest.raises(SessionOwnershipError) as raised:
        await new_session(api, "s1", caller, session_state={"secret": 2}, session_name="Other")

    assert raised.value.session_id == "s1"
    assert await stored(api, "s1") == before


@MISMATCHED_OWNERS
async def test_claim_session_owned_by_someone_else_raises(
    api: Any, db: BaseDb, owner: str | None, caller: str | None
) -> None:
    """claim on an existing id with a different owner raises, leaving the session unleased and unchanged."""
    await new_session(api, "s1", owner, session_state={"secret": 1})
    before = await stored(api, "s1")

    with pytest.raises(SessionOwnershipError):
        await db.store.claim("s1", AGENT, run_id="intruder", user_id=caller, on_busy="reject")

    assert await stored(api, "s1") == before
    claim = await db.store.claim("s1", AGENT, run_id="owner-run", user_id=owner, on_busy="reject")
    assert claim.abandoned_run_id is None
    assert await db.store.release(claim)


async def test_create_session_of_another_type_raises_usage_error(api: Any) -> None:
    """create_session on an existing id of another session type raises UsageError and keeps the session."""
    await new_session(api, "s1", "alice", session_state={"k": 1})
    before = await stored(api, "s1")

    with pytest.raises(UsageError):
        await api.create_session("s1", SessionType.TEAM, user_id="alice")

    assert await stored(api, "s1") == before


async def test_claim_session_of_another_type_raises_usage_error(api: Any, db: BaseDb) -> None:
    """claim with another session type than the stored session's raises UsageError and changes nothing."""
    await new_session(api, "s1", "alice")
    before = await stored(api, "s1")

    with pytest.raises(UsageError):
        await db.store.claim("s1", SessionType.WORKFLOW, run_id="r1", user_id="alice", on_busy="reject")

    assert await stored(api, "s1") == before


# --- user_id=None: no owner filter --------------------------------------------------------------------------


async def test_reads_without_user_see_every_owner(api: Any) -> None:
    """With user_id=None, get_session and get_sessions apply no owner filter."""
    await new_session(api, "a1", "alice")
    await new_session(api, "b1", "bob")
    await new_session(api, "n1", None)

    assert (await stored(api, "a1")).user_id == "alice"
    assert sorted(s.session_id for s in await api.get_sessions(user_id=None)) == ["a1", "b1", "n1"]


async def test_rename_without_user_renames_any_owners_session(api: Any) -> None:
    """rename_session with user_id=None renames a session owned by a user."""
    await new_session(api, "a1", "alice", session_name="Old")

    renamed = await api.rename_session("a1", AGENT, "New", None)

    assert renamed is not None
    assert renamed.user_id == "alice"
    assert (await stored(api, "a1")).session_name == "New"


async def test_deletes_without_user_delete_any_owners_sessions(api: Any) -> None:
    """delete_session and delete_sessions with user_id=None delete sessions of any owner."""
    await new_session(api, "a1", "alice")
    await new_session(api, "b1", "bob")
    await new_session(api, "n1", None)
    await new_session(api, "keep", "carol")

    assert await api.delete_session("a1", None) is True
    assert await api.delete_sessions(["b1", "n1"], None) == 2

    assert [s.session_id for s in await api.get_sessions()] == ["keep"]
