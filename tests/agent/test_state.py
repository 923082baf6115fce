"""Session state on an Agent (DESIGN.md §4): precedence, merge, templating, agentic updates, the codec."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.run import RunContext
from kern.testing import ScriptedModel, tool_call


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list."""
    run_context.session_state["shopping_list"].append(item)
    return f"list is now {run_context.session_state['shopping_list']}"


def forget(session_state: dict[str, Any], key: str) -> str:
    """Delete a key from the state."""
    del session_state[key]
    return "forgotten"


def remember_object(session_state: dict[str, Any]) -> str:
    """Put something the codec cannot store into the state."""
    session_state["bad"] = object()
    return "stored"


def test_default_state_seeds_a_new_session(agent_db: SyncDb) -> None:
    """The definition's session_state is the state of a session when it is created."""
    agent = Agent(model=ScriptedModel("ok"), db=agent_db, session_state={"shopping_list": []})
    agent.run("hi")
    assert agent.get_session_state() == {"shopping_list": []}


def test_default_state_does_not_override_stored_state(agent_db: SyncDb) -> None:
    """A second Agent with another default continues the stored state untouched."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "ok", "ok")
    first = Agent(model=model, db=agent_db, session_state={"shopping_list": []}, tools=[add_item])
    first.run("add milk")
    second = Agent(
        model=model, db=agent_db, session_id=first.session_id, session_state={"shopping_list": ["x"]}
    )
    output = second.run("hi")
    assert output.session_state == {"shopping_list": ["milk"]}


def test_tool_changes_persist_across_runs(agent_db: SyncDb) -> None:
    """What a tool does to run_context.session_state is stored and loaded by the next run."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "ok", tool_call("add_item", item="eggs"), "ok")
    agent = Agent(model=model, db=agent_db, session_state={"shopping_list": []}, tools=[add_item])
    agent.run("add milk")
    agent.run("add eggs")
    assert agent.get_session_state() == {"shopping_list": ["milk", "eggs"]}


def test_run_state_merges_into_stored_state(agent_db: SyncDb) -> None:
    """State passed to a run merges recursively into the stored state; lists are replaced."""
    agent = Agent(
        model=ScriptedModel("a", "b"), db=agent_db, session_state={"prefs": {"a": 1, "b": 2}, "tags": ["x"]}
    )
    agent.run("one")
    output = agent.run("two", session_state={"prefs": {"b": 3}, "tags": ["y"], "new": True})
    expected = {"prefs": {"a": 1, "b": 3}, "tags": ["y"], "new": True}
    assert output.session_state == expected
    assert agent.get_session_state() == expected


def test_overwrite_db_session_state_replaces_it(agent_db: SyncDb) -> None:
    """With overwrite_db_session_state the passed state replaces the stored one."""
    agent = Agent(
        model=ScriptedModel("a", "b"), db=agent_db, session_state={}, overwrite_db_session_state=True
    )
    agent.run("one", session_state={"shopping_list": ["Potatoes"]})
    agent.run("two", session_state={"secret_number": 43})
    assert agent.get_session_state() == {"secret_number": 43}


def test_deleted_key_stays_deleted(agent_db: SyncDb) -> None:
    """A key a tool deletes is deleted in the store too."""
    model = ScriptedModel(tool_call("forget", key="draft"), "ok")
    agent = Agent(model=model, db=agent_db, session_state={"draft": "x", "keep": 1}, tools=[forget])
    agent.run("forget the draft")
    assert agent.get_session_state() == {"keep": 1}


def test_per_run_state_and_ids_select_the_session(agent_db: SyncDb) -> None:
    """session_id/user_id/session_state on a run pick and seed that user's session (the seed example)."""
    model = ScriptedModel("John", "30", "Jane", "25")
    agent = Agent(model=model, db=agent_db, instructions="Users name is {user_name} and age is {age}")
    agent.run(
        "name?",
        session_id="user_1_session_1",
        user_id="user_1",
        session_state={"user_name": "John", "age": 30},
    )
    agent.run("age?", session_id="user_1_session_1", user_id="user_1")
    agent.run(
        "name?",
        session_id="user_2_session_1",
        user_id="user_2",
        session_state={"user_name": "Jane", "age": 25},
    )
    agent.run("age?", session_id="user_2_session_1", user_id="user_2")
    systems = [r.system for r in model.requests]
    assert systems == ["Users name is John and age is 30"] * 2 + ["Users name is Jane and age is 25"] * 2


def test_instructions_are_rendered_before_every_model_call() -> None:
    """A tool's change to the state shows in the instructions of the next model call."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "ok")
    agent = Agent(
        model=model,
        session_state={"shopping_list": []},
        tools=[add_item],
        instructions="Current list: {shopping_list}. Unknown {nope} and {{literal}} stay.",
    )
    agent.run("add milk")
    assert [r.system for r in model.requests] == [
        "Current list: []. Unknown {nope} and {literal} stay.",
        'Current list: ["milk"]. Unknown {nope} and {literal} stay.',
    ]


def test_templating_falls_back_to_dependencies_metadata_and_user_id() -> None:
    """Keys missing from the state come from dependencies, then metadata, then the user id."""
    model = ScriptedModel("ok")
    agent = Agent(model=model, description="{tenant} {channel} {user_id}", dependencies={"tenant": "acme"})
    agent.run("hi", user_id="ann", metadata={"channel": "web"})
    assert model.requests[0].system == "acme web ann"


def test_add_session_state_to_context_renders_current_state() -> None:
    """The state as JSON is in the system message of every model call."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "ok")
    agent = Agent(
        model=model, session_state={"shopping_list": []}, tools=[add_item], add_session_state_to_context=True
    )
    agent.run("add milk")
    second = model.requests[1].system or ""
    rendered = second.split("<session_state>")[1].split("</session_state>")[0]
    assert json.loads(rendered) == {"shopping_list": ["milk"]}


def test_agentic_state_tool_has_a_real_schema() -> None:
    """enable_agentic_state offers update_session_state with an object parameter and a description."""
    model = ScriptedModel("ok")
    Agent(model=model, enable_agentic_state=True).run("hi")
    (tool,) = model.requests[0].tools
    assert tool.name == "update_session_state"
    assert "merged" in tool.description
    assert tool.parameters["properties"]["updates"]["type"] == "object"
    assert tool.parameters["required"] == ["updates"]
    assert "session_state" not in tool.parameters["properties"]


def test_agentic_state_tool_merges_deletes_and_shows_the_result(agent_db: SyncDb) -> None:
    """update_session_state merges updates, deletes null keys, and the model sees the new state."""
    updates = {"shopping_list": ["milk", "eggs"], "draft": None, "prefs": {"b": 2}}
    model = ScriptedModel(tool_call("update_session_state", updates=updates), "done")
    agent = Agent(
        model=model, db=agent_db, session_state={"draft": "x", "prefs": {"a": 1}}, enable_agentic_state=True
    )
    agent.run("add milk and eggs")
    expected = {"prefs": {"a": 1, "b": 2}, "shopping_list": ["milk", "eggs"]}
    assert agent.get_session_state() == expected
    result = model.requests[1].tool_results[0].content or ""
    assert json.loads(result.split("It is now: ", 1)[1]) == expected


def test_unstorable_value_is_an_error_of_the_tool_that_put_it(agent_db: SyncDb) -> None:
    """A value the codec cannot store fails that tool call (naming the path); the state is put back."""
    model = ScriptedModel(tool_call("remember_object"), "sorry")
    agent = Agent(model=model, db=agent_db, session_state={"ok": 1}, tools=[remember_object])
    output = agent.run("remember")
    assert output.content == "sorry"
    (execution,) = output.tools
    assert execution.is_error
    assert "session_state['bad']" in (execution.result or "") or "session_state.bad" in (
        execution.result or ""
    )
    assert agent.get_session_state() == {"ok": 1}


def test_rich_values_round_trip_through_the_store(agent_db: SyncDb) -> None:
    """Dates, sets and tuples put in the state by a tool come back as themselves."""

    def plan(session_state: dict[str, Any]) -> str:
        session_state["due"] = dt.date(2026, 11, 21)
        session_state["tags"] = {"a", "b"}
        return "planned"

    agent = Agent(model=ScriptedModel(tool_call("plan"), "ok"), db=agent_db, tools=[plan])
    agent.run("plan")
    assert agent.get_session_state() == {"due": dt.date(2026, 11, 21), "tags": {"a", "b"}}


def test_unstorable_run_state_is_refused_before_the_run(agent_db: SyncDb) -> None:
    """State passed to a run that cannot be stored raises StateSerializationError and runs nothing."""
    from kern.exceptions import StateSerializationError

    model = ScriptedModel()
    agent = Agent(model=model, db=agent_db)
    with pytest.raises(StateSerializationError, match="bad"):
        agent.run("hi", session_state={"bad": object()})
    assert model.requests == []


def test_update_session_state_applies_to_the_stored_state(agent_db: SyncDb) -> None:
    """update_session_state merges into the stored state and returns it."""
    agent = Agent(model=ScriptedModel("ok"), db=agent_db, session_state={"a": {"x": 1}, "b": 1})
    agent.run("hi")
    assert agent.update_session_state({"a": {"y": 2}, "b": None}) == {"a": {"x": 1, "y": 2}}
    assert agent.get_session_state() == {"a": {"x": 1, "y": 2}}


def test_get_session_state_of_unknown_session_is_empty() -> None:
    """A session that does not exist has an empty state."""
    assert Agent(model=ScriptedModel()).get_session_state("nope") == {}


def test_agents_without_db_share_the_process_store() -> None:
    """State persists in the process across Agent objects built without db (one per request, say)."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "ok", "ok")
    Agent(model=model, session_id="per-request", session_state={"shopping_list": []}, tools=[add_item]).run(
        "add"
    )
    again = Agent(model=model, session_id="per-request")
    assert again.get_session_state() == {"shopping_list": ["milk"]}
