"""The owner rule of the store: runtime calls take an exact owner (None is the anonymous owner, SQL NULL),
only the management API reads every user's rows, and it says so with ANY_USER (DESIGN.md §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from kern.db.base import BaseDb
from kern.db.records import ANY_USER, owner_or_any
from kern.exceptions import SessionOwnershipError
from kern.session.schema import SessionSummary, SessionType, UserMemory
from tests.db.conftest import AddRun

pytestmark = pytest.mark.anyio

AGENT = SessionType.AGENT


async def memories(api: Any) -> dict[str | None, UserMemory]:
    """One memory each of the anonymous owner, a user called "default" and mark, by owner."""
    stored = [
        await api.upsert_user_memory(UserMemory(memory=f"fact of {owner}", user_id=owner))
        for owner in (None, "default", "mark")
    ]
    return {memory.user_id: memory for memory in stored}


def test_management_faces_read_none_as_any_user() -> None:
    """The faces' ``user_id=None`` becomes the explicit ANY_USER; a user id, even "default", stays itself."""
    assert owner_or_any(None) is ANY_USER
    assert owner_or_any("default") == "default"


async def test_resume_journal_of_the_anonymous_owner_never_reads_a_users_run(
    db: BaseDb, add_run: AddRun
) -> None:
    """journal_of(run, None) is the anonymous owner's read: alice's run raises SessionOwnershipError."""
    await add_run("s-alice", "r-alice", "hi", "hello", user_id="alice")
    for caller in (None, "bob", "default"):
        with pytest.raises(SessionOwnershipError, match="another user"):
            await db.store.journal_of("r-alice", caller)
    found = await db.store.journal_of("r-alice", "alice")
    assert found is not None
    assert found[0].run_id == "r-alice"


async def test_resume_journal_of_a_user_never_reads_an_anonymous_run(db: BaseDb, add_run: AddRun) -> None:
    """An anonymous run is readable by the anonymous owner only; no user id reaches it."""
    await add_run("s-anon", "r-anon", "hi", "hello")
    with pytest.raises(SessionOwnershipError):
        await db.store.journal_of("r-anon", "default")
    found = await db.store.journal_of("r-anon", None)
    assert found is not None
    assert await db.store.journal_of("no-such-run", None) is None


async def test_management_journal_without_a_user_is_the_admin_view(db: BaseDb, add_run: AddRun) -> None:
    """journal(run) with no user reads any owner's run, as the seeds' management reads do."""
    await add_run("s-alice", "r-alice", "hi", "hello", user_id="alice")
    found = await db.store.journal("r-alice")
    assert found is not None
    assert await db.store.journal("r-alice", "bob") is None


async def test_memories_of_none_are_the_anonymous_owners_only(db: BaseDb, api: Any) -> None:
    """memories_of(None) is exactly the NULL owner's; memories_of("default") exactly that user's."""
    await memories(api)
    assert [m.memory for m in await db.store.memories_of(None)] == ["fact of None"]
    assert [m.memory for m in await db.store.memories_of("default")] == ["fact of default"]


async def test_management_memories_without_a_user_are_every_users(api: Any) -> None:
    """get_user_memories() with no user lists every owner's, the anonymous owner's included."""
    await memories(api)
    assert sorted(m.memory for m in await api.get_user_memories()) == [
        "fact of None",
        "fact of default",
        "fact of mark",
    ]


async def test_delete_memory_of_refuses_another_owner_and_the_anonymous_one(db: BaseDb, api: Any) -> None:
    """A run deleting by id deletes only its exact owner's memory: "default" cannot reach the NULL owner's."""
    by_owner = await memories(api)
    with pytest.raises(SessionOwnershipError):
        await db.store.delete_memory_of(by_owner[None].memory_id, "default")
    with pytest.raises(SessionOwnershipError):
        await db.store.delete_memory_of(by_owner["default"].memory_id, None)
    assert await db.store.delete_memory_of(by_owner[None].memory_id, None) is True
    assert sorted(m.memory for m in await api.get_user_memories()) == ["fact of default", "fact of mark"]


async def test_summary_input_reads_only_the_exact_owners_session(db: BaseDb, add_run: AddRun) -> None:
    """summary_input of alice's session as the anonymous owner reads neither its summary nor its runs."""
    await add_run("s-alice", "r-alice", "hi", "hello", user_id="alice")
    assert await db.store.set_session_summary("s-alice", "alice", SessionSummary("alice's"))
    assert await db.store.summary_input("s-alice", None) == (None, [], None)
    summary, messages, _ = await db.store.summary_input("s-alice", "alice")
    assert summary is not None
    assert summary.summary == "alice's"
    assert [m.content for m in messages] == ["hi", "hello"]  # the summary covers no run yet
