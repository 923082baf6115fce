"""User memories in runs: learnt after a run, shown in later sessions, managed by the model, isolated."""

from __future__ import annotations

import json

import anyio
import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.memory import MemoryManager
from kern.memory.manager import DEFAULT_MEMORY_PROMPT
from kern.run import RunStatus
from kern.team import Team
from kern.testing import FunctionModel, ModelRequest, ScriptedModel, tool_call


def is_memory_request(request: ModelRequest) -> bool:
    """True for the MemoryManager's request (its system prompt)."""
    return request.system == DEFAULT_MEMORY_PROMPT


def learns(*facts: str) -> str:
    """A memory manager's answer adding ``facts``."""
    return json.dumps({"add": list(facts)})


def chat_model(answer: str = "ok") -> FunctionModel:
    """Answers runs with ``answer`` plus the memories it was shown; memory requests learn the user's
    statements (not questions)."""

    def reply(request: ModelRequest) -> str:
        if is_memory_request(request):
            said = (request.last_user_message or "").split("<user_said>\n- ", 1)[1].split("\n", 1)[0]
            return "{}" if said.endswith("?") else learns(said)
        shown = (
            (request.system or "").split("<memories>\n", 1)[-1]
            if "<memories>" in (request.system or "")
            else ""
        )
        return f"{answer} | {shown}"

    return FunctionModel(reply)


@pytest.mark.anyio
async def test_a_fact_learnt_in_one_session_is_used_in_another(agent_db: SyncDb) -> None:
    """Mark says he likes anime in session 1; a run in session 2 is shown that memory."""
    agent = Agent(model=chat_model("suggestion"), db=agent_db, update_memory_on_run=True)
    await agent.arun("My name is Mark and I like anime", user_id="mark", session_id="mark_1")
    later = await agent.arun("What do you suggest I do this weekend?", user_id="mark", session_id="mark_2")
    assert "My name is Mark and I like anime" in later.content
    assert [m.memory for m in await agent.aget_user_memories("mark")] == ["My name is Mark and I like anime"]


@pytest.mark.anyio
async def test_memories_of_user_a_never_reach_user_b(agent_db: SyncDb) -> None:
    """John's run is shown none of Mark's memories, and John's memories are his own."""
    agent = Agent(model=chat_model(), db=agent_db, update_memory_on_run=True)
    await agent.arun("I like anime", user_id="mark", session_id="mark_1")
    john = await agent.arun("Hi, my name is John", user_id="john", session_id="john_1")
    assert "anime" not in john.content
    assert [m.memory for m in await agent.aget_user_memories("john")] == ["Hi, my name is John"]
    assert [m.memory for m in await agent.aget_user_memories("mark")] == ["I like anime"]


@pytest.mark.anyio
async def test_what_food_do_i_like_is_answered_from_memory_in_a_new_session() -> None:
    """The seed's pizza example: a new session without history still knows the food from memory."""

    def reply(request: ModelRequest) -> str:
        if is_memory_request(request):
            return learns("The user loves pizza, especially margherita")
        return "You like pizza" if "pizza" in (request.system or "") else "I don't know"

    agent = Agent(model=FunctionModel(reply), session_id="chat_session", update_memory_on_run=True)
    agent.run("I love pizza, especially margherita", user_id="eve")
    answer = agent.run("What food do I like?", user_id="eve", session_id="new_session")
    assert answer.content == "You like pizza"
    assert answer.messages[0].content == "What food do I like?"  # no history from chat_session


@pytest.mark.anyio
async def test_the_manager_updates_a_known_fact_instead_of_adding_a_duplicate() -> None:
    """A refined fact rewrites the memory by id; an addition repeating a memory is dropped."""
    answers: list[str] = []

    def reply(request: ModelRequest) -> str:
        if not is_memory_request(request):
            return "ok"
        memories = (request.last_user_message or "").split("<memories>\n", 1)[1]
        if "(none)" in memories:
            answers.append(learns("Likes anime"))
        else:
            memory_id = memories.split("[", 1)[1].split("]", 1)[0]
            answers.append(
                json.dumps({"add": ["likes anime"], "update": [{"id": memory_id, "memory": "Loves anime"}]})
            )
        return answers[-1]

    agent = Agent(model=FunctionModel(reply), update_memory_on_run=True, user_id="mark")
    first = await agent.arun("I like anime")
    second = await agent.arun("Actually I love anime")
    assert [m.memory for m in await agent.aget_user_memories()] == ["Loves anime"]
    assert first.post_run is not None
    assert first.post_run.memory_changes is not None
    assert first.post_run.memory_changes.add == ["Likes anime"]
    assert second.post_run is not None
    assert second.post_run.memory_changes is not None
    assert second.post_run.memory_changes.add == []


@pytest.mark.anyio
async def test_an_invented_memory_id_never_touches_another_users_memory(agent_db: SyncDb) -> None:
    """A memory model naming another user's memory id to update or delete changes nothing of it."""
    from kern.session.schema import UserMemory

    marks = agent_db.upsert_user_memory(UserMemory(memory="likes anime", user_id="mark"))
    hostile = json.dumps(
        {"update": [{"id": marks.memory_id, "memory": "pwned"}], "delete": [marks.memory_id]}
    )
    manager = MemoryManager(model=ScriptedModel(hostile))
    agent = Agent(model=ScriptedModel("hi"), db=agent_db, update_memory_on_run=True, memory_manager=manager)
    await agent.arun("hello", user_id="john")
    assert [m.memory for m in agent_db.get_user_memories("mark")] == ["likes anime"]


@pytest.mark.anyio
async def test_agentic_memory_gives_the_model_a_tool_to_manage_memories() -> None:
    """enable_agentic_memory offers update_user_memories; what it adds is stored and shown next call."""
    model = ScriptedModel(tool_call("update_user_memories", add=["Prefers tea"]), "noted")
    agent = Agent(model=model, enable_agentic_memory=True, user_id="ann")
    output = await agent.arun("Remember that I prefer tea")
    assert output.content == "noted"
    assert [m.memory for m in await agent.aget_user_memories()] == ["Prefers tea"]
    assert "update_user_memories" in [t.name for t in model.requests[0].tools]
    assert "Prefers tea" in (model.requests[1].system or "")


@pytest.mark.anyio
async def test_a_failing_memory_update_is_reported_and_the_run_stays_completed() -> None:
    """A memory model that answers garbage: the run is completed and stored, the failure is on the output."""
    manager = MemoryManager(model=ScriptedModel("not json"))
    agent = Agent(model=ScriptedModel("fine"), update_memory_on_run=True, memory_manager=manager)
    output = await agent.arun("I like tea")
    assert (output.status, output.content) == (RunStatus.completed, "fine")
    assert output.post_run is not None
    (error,) = output.post_run.errors
    assert error.startswith("user memories: ModelOutputError")
    runs = await agent.store.get_runs(output.session_id)
    assert [r.status for r in runs] == [RunStatus.completed]


@pytest.mark.anyio
async def test_background_memory_updates_let_arun_return_first() -> None:
    """With background=, arun returns before the memory model answers; post_run.wait() waits for it."""
    release = anyio.Event()

    async def slow_memory(request: ModelRequest) -> str:
        await release.wait()
        return learns("Likes chess")

    manager = MemoryManager(model=FunctionModel(slow_memory))
    agent = Agent(model=ScriptedModel("ok"), update_memory_on_run=True, memory_manager=manager, user_id="bob")
    async with anyio.create_task_group() as tg:
        output = await agent.arun("I like chess", background=tg)
        assert output.post_run is not None
        assert not output.post_run.done.is_set()
        release.set()
        await output.post_run.wait()
    assert [m.memory for m in await agent.aget_user_memories()] == ["Likes chess"]


@pytest.mark.anyio
async def test_a_team_learns_memories_like_an_agent() -> None:
    """update_memory_on_run on a Team stores what the user said after the team's run."""

    def reply(request: ModelRequest) -> str:
        return learns("Works at night") if is_memory_request(request) else "team answer"

    team = Team(model=FunctionModel(reply), members=[Agent(model=ScriptedModel())], update_memory_on_run=True)
    await team.arun("I work at night", user_id="zoe")
    assert [m.memory for m in await team.aget_user_memories("zoe")] == ["Works at night"]


@pytest.mark.anyio
async def test_a_member_sees_and_manages_the_users_memories() -> None:
    """A workflow's agent step with agentic memory is shown the user's memories and can add to them."""
    from kern.session.schema import UserMemory
    from kern.workflow import Workflow

    member_model = ScriptedModel(tool_call("update_user_memories", add=["Lives in Oslo"]), "saved")
    member = Agent(name="helper", model=member_model, enable_agentic_memory=True)
    workflow = Workflow(name="remember", steps=[member], user_id="ola")
    await workflow.store.upsert_user_memory(UserMemory(memory="Likes skiing", user_id="ola"))
    output = await workflow.arun("I live in Oslo")
    assert output.content == "saved"
    assert "Likes skiing" in (member_model.requests[0].system or "")
    memories = await workflow.store.get_user_memories("ola")
    assert [m.memory for m in memories] == ["Likes skiing", "Lives in Oslo"]
