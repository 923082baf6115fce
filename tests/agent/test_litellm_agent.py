"""The Agent through litellm against the loopback OpenAI-compatible server: the real HTTP path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import ModelServerError
from kern.models.litellm import LiteLLM
from kern.run import RunContent, RunContext, RunStatus
from kern.session.schema import SessionType
from tests.support.openai_server import OpenAIServer


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list.

    Args:
        item: The item to add.
    """
    run_context.session_state["shopping_list"].append(item)
    return f"The shopping list is now {run_context.session_state['shopping_list']}"


def _model(server: OpenAIServer, **settings: Any) -> LiteLLM:
    return LiteLLM(id="openai/gpt-4o-mini", api_base=server.base_url, api_key="sk-test", **settings)


def test_tool_run_persists_state(openai_server: OpenAIServer, agent_db: SyncDb) -> None:
    """A sync run calls the tool the server asked for and stores the state it changed."""
    openai_server.reply(tool_calls=[("add_item", {"item": "milk"})])
    openai_server.reply("Added milk.")
    agent = Agent(
        model=_model(openai_server),
        db=agent_db,
        tools=[add_item],
        session_state={"shopping_list": []},
        instructions="Current list: {shopping_list}",
    )
    output = agent.run("Add milk")
    assert output.content == "Added milk."
    assert agent.get_session_state() == {"shopping_list": ["milk"]}
    first, second = openai_server.requests
    assert first["messages"][0] == {"role": "system", "content": "Current list: []"}
    assert second["messages"][0]["content"] == 'Current list: ["milk"]'
    schema = first["tools"][0]["function"]
    assert schema["name"] == "add_item"
    assert schema["parameters"]["properties"]["item"]["description"] == "The item to add."
    assert "run_context" not in schema["parameters"]["properties"]


@pytest.mark.anyio
async def test_streamed_interleaved_tool_calls_are_assembled(openai_server: OpenAIServer) -> None:
    """Two tool calls streamed in interleaved fragments both run with their own arguments."""
    openai_server.reply(
        tool_calls=[("add_item", {"item": "eggs and bacon"}), ("add_item", {"item": "bread"})]
    )
    openai_server.reply("Added eggs and bacon, and bread to your list.")
    agent = Agent(model=_model(openai_server), tools=[add_item], session_state={"shopping_list": []})
    events = [e async for e in agent.arun("Add eggs and bacon, and bread", stream=True)]
    text = "".join(e.content for e in events if isinstance(e, RunContent))
    assert text == "Added eggs and bacon, and bread to your list."
    state = await agent.aget_session_state()
    assert sorted(state["shopping_list"]) == ["bread", "eggs and bacon"]
    assert openai_server.requests[0]["stream"] is True


def test_rate_limit_is_retried_after_the_hint(openai_server: OpenAIServer) -> None:
    """A 429 with Retry-After is retried and the run completes."""
    openai_server.fail(429, retry_after=0.01)
    openai_server.reply("fine now")
    output = Agent(model=_model(openai_server), retries=1).run("hi")
    assert output.content == "fine now"
    assert len(openai_server.requests) == 2


def test_server_error_fails_the_run_and_records_it(openai_server: OpenAIServer, agent_db: SyncDb) -> None:
    """A 500 with no retries left raises ModelServerError; the run is stored with status error."""
    openai_server.fail(500, message="upstream exploded")
    agent = Agent(model=_model(openai_server, retries=0), db=agent_db)
    with pytest.raises(ModelServerError):
        agent.run("hi")
    session = agent_db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    assert [r.status for r in session.runs] == [RunStatus.error]
    assert len(openai_server.requests) == 1


def test_malformed_arguments_from_the_server_become_an_error_result(openai_server: OpenAIServer) -> None:
    """Unparseable arguments sent by the model give it an error result; the run completes."""
    openai_server.reply(tool_calls=[("add_item", '{"item": "milk"')])
    openai_server.reply("Sorry, let me retry.")
    agent = Agent(model=_model(openai_server), tools=[add_item], session_state={"shopping_list": []})
    output = agent.run("Add milk")
    assert output.content == "Sorry, let me retry."
    tool_message = openai_server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "add_item" in tool_message["content"]
    assert output.session_state == {"shopping_list": []}


@pytest.mark.anyio
async def test_print_response_streams_inside_a_running_loop(
    openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sync print_response works from async code and prints the streamed answer."""
    openai_server.reply("Streaming works.")
    Agent(model=_model(openai_server)).print_response("hi", stream=True)
    assert "Streaming works." in capsys.readouterr().out


def test_output_schema_is_sent_and_parsed(openai_server: OpenAIServer) -> None:
    """Structured output goes out as response_format and comes back as the schema's instance."""
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    openai_server.reply(json.dumps({"name": "Lyon"}))
    output = Agent(model=_model(openai_server), output_schema=City).run("a city?")
    assert output.content == City(name="Lyon")
    assert openai_server.requests[0]["response_format"]["type"] == "json_schema"


def test_litellm_is_a_default_dependency() -> None:
    """``pip install kern`` with no extras brings litellm: it is required unconditionally, not by an extra."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    required = [Requirement(line) for line in requires("kern") or []]
    assert any(r.name == "litellm" and r.marker is None for r in required)


def test_a_model_id_string_is_a_litellm_model(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Agent(model="openai/gpt-4o-mini")`` runs through litellm against the server OPENAI_BASE_URL names."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_server.reply("Hello from the server.")
    agent = Agent(model="openai/gpt-4o-mini")
    assert isinstance(agent.resolved_model, LiteLLM)
    output = agent.run("hi")
    assert output.content == "Hello from the server."
    assert openai_server.requests[0]["model"] == "gpt-4o-mini"
