"""The store's user memories: ownership in SQL, upsert in place, delete, clear (DESIGN.md §1.3)."""

from __future__ import annotations

import pytest

from kern.db.base import SyncDb
from kern.exceptions import SessionOwnershipError, UsageError
from kern.session.schema import UserMemory


def test_memories_of_one_user_are_never_visible_to_another(agent_db: SyncDb) -> None:
    """Each user reads only their own memories."""
    agent_db.upsert_user_memory(UserMemory(memory="likes anime", user_id="mark"))
    agent_db.upsert_user_memory(UserMemory(memory="likes jazz", user_id="john"))
    assert [m.memory for m in agent_db.get_user_memories("mark")] == ["likes anime"]
    assert [m.memory for m in agent_db.get_user_memories("john")] == ["likes jazz"]


def test_another_users_memory_cannot_be_updated_or_deleted(agent_db: SyncDb) -> None:
    """Updating or deleting a memory as another user raises SessionOwnershipError and changes nothing."""
    stored = agent_db.upsert_user_memory(UserMemory(memory="likes anime", user_id="mark"))
    with pytest.raises(SessionOwnershipError):
        agent_db.upsert_user_memory(UserMemory(memory="hijacked", user_id="john", memory_id=stored.memory_id))
    with pytest.raises(SessionOwnershipError):
        agent_db.delete_user_memory(stored.memory_id, user_id="john")
    assert [m.memory for m in agent_db.get_user_memories("mark")] == ["likes anime"]


def test_upsert_with_an_id_rewrites_that_memory(agent_db: SyncDb) -> None:
    """A second upsert with the same id updates the memory instead of adding one."""
    stored = agent_db.upsert_user_memory(UserMemory(memory="likes anime", user_id="mark", topics=["hobbies"]))
    agent_db.upsert_user_memory(UserMemory(memory="loves anime", user_id="mark", memory_id=stored.memory_id))
    (memory,) = agent_db.get_user_memories("mark")
    assert (memory.memory_id, memory.memory, memory.topics) == (stored.memory_id, "loves anime", [])


def test_delete_and_clear_remove_only_what_they_name(agent_db: SyncDb) -> None:
    """delete_user_memory removes one memory; clear_memories(user) removes that user's, no one else's."""
    first = agent_db.upsert_user_memory(UserMemory(memory="a", user_id="mark"))
    agent_db.upsert_user_memory(UserMemory(memory="b", user_id="mark"))
    agent_db.upsert_user_memory(UserMemory(memory="c", user_id="john"))
    assert agent_db.delete_user_memory(first.memory_id, user_id="mark") is True
    assert agent_db.delete_user_memory(first.memory_id, user_id="mark") is False
    assert agent_db.clear_memories("mark") == 1
    assert [m.memory for m in agent_db.get_user_memories()] == ["c"]


def test_limit_returns_the_newest_memories_oldest_first(agent_db: SyncDb) -> None:
    """get_user_memories(limit=2) keeps the two most recently updated, in order."""
    for text in ("one", "two", "three"):
        agent_db.upsert_user_memory(UserMemory(memory=text, user_id="mark"))
    assert [m.memory for m in agent_db.get_user_memories("mark", limit=2)] == ["two", "three"]


def test_an_empty_memory_is_refused(agent_db: SyncDb) -> None:
    """A memory without text raises UsageError."""
    with pytest.raises(UsageError, match="needs some text"):
        agent_db.upsert_user_memory(UserMemory(memory="  ", user_id="mark"))
