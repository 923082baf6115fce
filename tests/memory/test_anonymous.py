"""The anonymous owner's memories (runs without a user id) are the NULL owner's: no user id a caller can
pass reaches them, not even "default", and no user's memories reach an anonymous run."""

from __future__ import annotations

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import SessionOwnershipError
from kern.session.schema import UserMemory
from kern.testing import FunctionModel, ModelRequest, ScriptedModel, tool_call
from tests.memory.test_runs import chat_model, is_memory_request

pytestmark = pytest.mark.anyio


async def anonymous_memory(agent_db: SyncDb) -> UserMemory:
    """Let an anonymous run learn one memory; that memory."""
    agent = Agent(model=chat_model(), db=agent_db, update_memory_on_run=True)
    await agent.arun("I like tea")
    (memory,) = await agent.aget_user_memories()
    assert memory.memory == "I like tea"
    return memory


async def test_an_anonymous_runs_memories_are_not_the_default_users(agent_db: SyncDb) -> None:
    """What an anonymous run learns is stored under the NULL owner, invisible to user_id="default"."""
    memory = await anonymous_memory(agent_db)
    assert memory.user_id is None
    assert agent_db.get_user_memories("default") == []
    assert await Agent(model=ScriptedModel(), db=agent_db, user_id="default").aget_user_memories() == []


async def test_a_user_called_default_cannot_change_the_anonymous_memories(agent_db: SyncDb) -> None:
    """Updating or deleting an anonymous memory as "default" raises SessionOwnershipError; nothing changes."""
    memory = await anonymous_memory(agent_db)
    with pytest.raises(SessionOwnershipError):
        agent_db.delete_user_memory(memory.memory_id, user_id="default")
    with pytest.raises(SessionOwnershipError):
        agent_db.upsert_user_memory(UserMemory(memory="pwned", user_id="default", memory_id=memory.memory_id))
    assert [m.memory for m in await agent_db.store.memories_of(None)] == ["I like tea"]


async def test_a_default_users_memories_never_reach_an_anonymous_run(agent_db: SyncDb) -> None:
    """An anonymous run is shown none of user "default"'s memories (nor any other user's)."""
    agent_db.upsert_user_memory(UserMemory(memory="default's secret", user_id="default"))
    agent_db.upsert_user_memory(UserMemory(memory="mark's secret", user_id="mark"))
    model = ScriptedModel("ok")
    agent = Agent(model=model, db=agent_db, add_memories_to_context=True)
    await agent.arun("what do you know about me?")
    assert "secret" not in (model.requests[0].system or "")


async def test_an_anonymous_runs_memories_never_reach_the_default_users_run(agent_db: SyncDb) -> None:
    """A run of user "default" is shown none of the anonymous memories."""
    await anonymous_memory(agent_db)
    model = ScriptedModel("ok")
    agent = Agent(model=model, db=agent_db, add_memories_to_context=True, user_id="default")
    await agent.arun("what do you know about me?")
    assert "I like tea" not in (model.requests[0].system or "")


async def test_an_anonymous_run_sees_and_manages_its_own_memories(agent_db: SyncDb) -> None:
    """The agentic tool of an anonymous run changes the NULL owner's memories, and the run sees them."""
    agent_db.upsert_user_memory(UserMemory(memory="Likes tea", user_id=None))
    agent_db.upsert_user_memory(UserMemory(memory="Likes coffee", user_id="default"))
    model = ScriptedModel(tool_call("update_user_memories", add=["Lives in Oslo"]), "saved")
    agent = Agent(model=model, db=agent_db, enable_agentic_memory=True)
    await agent.arun("I live in Oslo")
    assert "Likes tea" in (model.requests[0].system or "")
    assert "Likes coffee" not in (model.requests[0].system or "")
    assert [m.memory for m in await agent_db.store.memories_of(None)] == ["Likes tea", "Lives in Oslo"]
    assert [m.memory for m in agent_db.get_user_memories("default")] == ["Likes coffee"]


async def test_an_anonymous_memory_update_deletes_only_anonymous_memories(agent_db: SyncDb) -> None:
    """The memory manager of an anonymous run deletes a memory it was shown, never "default"'s."""
    agent_db.upsert_user_memory(UserMemory(memory="Likes coffee", user_id="default"))
    anonymous = agent_db.upsert_user_memory(UserMemory(memory="Likes tea", user_id=None))

    def reply(request: ModelRequest) -> str:
        return f'{{"delete": ["{anonymous.memory_id}"]}}' if is_memory_request(request) else "ok"

    agent = Agent(model=FunctionModel(reply), db=agent_db, update_memory_on_run=True)
    output = await agent.arun("forget that I like tea")
    assert output.post_run is not None
    assert output.post_run.errors == []
    assert await agent_db.store.memories_of(None) == []
    assert [m.memory for m in agent_db.get_user_memories("default")] == ["Likes coffee"]
