"""Runs against what real OpenAI-compatible servers do at their edges (issue 13), over the loopback server.

Truncated tool calls, arguments that are not JSON, streams that break, slow servers, and what a failed
run keeps: its tokens, and the text the model had produced.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import ModelConnectionError, ModelOutputError, ModelServerError, ModelTimeoutError
from kern.models.base import Usage
from kern.models.litellm import LiteLLM
from kern.run import RunStatus
from kern.session.schema import SessionType
from kern.team import Team
from kern.testing import Reply, ScriptedModel, tool_call
from tests.support.openai_server import OpenAIServer

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class Weather:
    """A get_weather tool that records every call it gets."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_weather(self, city: str) -> str:
        """The weather in a city.

        Args:
            city: The city.
        """
        self.calls.append(city)
        return f"Sunny in {city}."


def model(server: OpenAIServer, **settings: Any) -> LiteLLM:
    return LiteLLM(id="openai/local-model", api_base=server.base_url, api_key="dummy", **settings)


def stored(db: SyncDb, agent: Agent) -> tuple[RunStatus, dict[str, Any], str]:
    """The status, metrics and error ("" for none) of the agent's one stored run."""
    (run,) = db.get_runs(agent.default_session_id)
    return run.status, run.metrics, run.error or ""


async def ask(agent: Agent, question: str, *, stream: bool = False) -> None:
    """Run the agent once, streamed (every event read) or not."""
    if stream:
        [event async for event in agent.arun(question, stream=True)]
    else:
        await agent.arun(question)


# -- a tool call cut off by max_tokens ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_truncated_tool_call_fails_the_run_clearly(
    openai_server: OpenAIServer, agent_db: SyncDb, stream: bool
) -> None:
    """finish_reason 'length' in a tool call: ModelOutputError naming max_tokens, the tool never runs."""
    openai_server.reply(
        "Checking.", tool_calls=[("get_weather", '{"city": "')], finish_reason="length", usage=(40, 16)
    )
    weather = Weather()
    agent = Agent(model=model(openai_server, max_tokens=16), db=agent_db, tools=[weather.get_weather])
    with pytest.raises(ModelOutputError, match=r"raise max_tokens \(now 16\)"):
        await ask(agent, "Weather in Paris?", stream=stream)
    assert weather.calls == []
    assert len(openai_server.requests) == 1
    status, metrics, error = stored(agent_db, agent)
    assert status is RunStatus.error
    assert "finish_reason 'length'" in error
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (40, 16)
    assert metrics["finish_reasons"] == ["length"]


@pytest.mark.anyio
async def test_no_call_of_a_truncated_answer_runs(openai_server: OpenAIServer) -> None:
    """A complete call before the cut one does not run either: the model's turn is incomplete."""
    openai_server.reply(
        tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", '{"ci')], finish_reason="length"
    )
    weather = Weather()
    agent = Agent(model=model(openai_server), tools=[weather.get_weather])
    with pytest.raises(ModelOutputError, match="2 tool calls"):
        await agent.arun("Weather in Paris and Rome?")
    assert weather.calls == []


@pytest.mark.anyio
async def test_a_truncated_text_answer_completes_with_its_finish_reason(
    openai_server: OpenAIServer, agent_db: SyncDb
) -> None:
    """A plain answer cut off by max_tokens is returned; RunOutput and the stored metrics say 'length'."""
    openai_server.reply("The weather in Paris is", finish_reason="length")
    agent = Agent(model=model(openai_server, max_tokens=5), db=agent_db)
    output = await agent.arun("Weather in Paris?")
    assert (output.content, output.status, output.finish_reason) == (
        "The weather in Paris is",
        RunStatus.completed,
        "length",
    )
    assert stored(agent_db, agent)[1]["finish_reasons"] == ["length"]


@pytest.mark.anyio
async def test_finish_reasons_of_every_call_are_recorded(openai_server: OpenAIServer) -> None:
    """metrics.finish_reasons lists each model call's reason in order; finish_reason is the last."""
    openai_server.reply(tool_calls=[("get_weather", {"city": "Paris"})])
    openai_server.reply("Sunny.")
    output = await Agent(model=model(openai_server), tools=[Weather().get_weather]).arun("Paris?")
    assert (output.metrics.finish_reasons, output.finish_reason) == (("tool_calls", "stop"), "stop")


# -- arguments that are not JSON are never sent back --------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_malformed_arguments_are_never_sent_back(
    openai_server: OpenAIServer, agent_db: SyncDb, stream: bool
) -> None:
    """Broken arguments go back as {} with the error result (llama.cpp would refuse them); raw text kept."""
    openai_server.reply(tool_calls=[("get_weather", '{"city": "Par')])
    openai_server.reply("Which city?")
    weather = Weather()
    agent = Agent(model=model(openai_server), db=agent_db, tools=[weather.get_weather])
    await ask(agent, "Weather?", stream=stream)
    assistant, tool = openai_server.requests[1]["messages"][-2:]
    assert assistant["tool_calls"][0]["function"]["arguments"] == "{}"
    assert tool["role"] == "tool"
    assert "not valid JSON" in tool["content"]
    assert weather.calls == []
    session = agent_db.get_session(agent.default_session_id, SessionType.AGENT)
    assert session is not None
    call_id = assistant["tool_calls"][0]["id"]
    kept = next(m for m in session.messages if m.tool_calls)
    assert kept.metadata == {"invalid_arguments": {call_id: '{"city": "Par'}}


@pytest.mark.anyio
async def test_every_call_runs_though_parallel_calls_were_refused(openai_server: OpenAIServer) -> None:
    """parallel_tool_calls=False reaches the server, which may ignore it: every call of the turn runs."""
    openai_server.reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})])
    openai_server.reply("Sunny in both.")
    weather = Weather()
    agent = Agent(model=model(openai_server, parallel_tool_calls=False), tools=[weather.get_weather])
    output = await agent.arun("Paris and Rome?")
    assert openai_server.requests[0]["parallel_tool_calls"] is False
    assert sorted(weather.calls) == ["Paris", "Rome"]
    assert output.content == "Sunny in both."


# -- what a failed run keeps --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_failed_run_stores_the_tokens_it_used(openai_server: OpenAIServer, agent_db: SyncDb) -> None:
    """Metrics of the calls that answered before the failure are stored on the failed run."""
    openai_server.reply(tool_calls=[("get_weather", {"city": "Paris"})], usage=(12, 3))
    openai_server.fail(503, message="overloaded")
    agent = Agent(model=model(openai_server, retries=0), db=agent_db, tools=[Weather().get_weather])
    with pytest.raises(ModelServerError):
        await agent.arun("Paris?")
    status, metrics, _ = stored(agent_db, agent)
    assert status is RunStatus.error
    assert {k: metrics[k] for k in ("input_tokens", "output_tokens", "model_calls", "tool_calls")} == {
        "input_tokens": 12,
        "output_tokens": 3,
        "model_calls": 1,
        "tool_calls": 1,
    }
    assert metrics["duration"] > 0


@pytest.mark.anyio
async def test_a_failed_member_run_stores_the_tokens_it_used(agent_db: SyncDb) -> None:
    """A team member whose second model call fails keeps its first call's tokens on its stored run."""

    def noop() -> str:
        """Do nothing."""
        return "done"

    first = Reply(tool_calls=(tool_call("noop"),), usage=Usage(7, 2))
    member = Agent(id="worker", model=ScriptedModel(first, ModelServerError("down")), tools=[noop], retries=0)
    delegate = tool_call("delegate_task_to_member", member_id="worker", task="go")
    team = Team(model=ScriptedModel(delegate, "handled"), members=[member], db=agent_db)
    await team.arun("go")
    run = next(r for r in agent_db.get_runs(team.default_session_id) if r.component_id == "worker")
    assert run.status is RunStatus.error
    metrics = run.metrics
    assert (metrics["input_tokens"], metrics["output_tokens"], metrics["model_calls"]) == (7, 2, 1)


@pytest.mark.anyio
async def test_a_stream_that_breaks_keeps_its_text_on_the_failed_run(
    openai_server: OpenAIServer, agent_db: SyncDb
) -> None:
    """A stream cut mid-answer fails the run naming the URL and the deltas; the text is stored."""
    openai_server.reply("It is sunny in Paris today", cut_after=4)
    agent = Agent(model=model(openai_server), db=agent_db)
    with pytest.raises(ModelConnectionError, match="the stream broke after 3 deltas") as caught:
        await ask(agent, "Paris?", stream=True)
    assert openai_server.base_url in str(caught.value)
    session = agent_db.get_session(agent.default_session_id, SessionType.AGENT)
    assert session is not None
    last = session.messages[-1]
    assert (last.role, last.content) == ("assistant", "It is sunny ")
    assert "ModelConnectionError" in last.metadata["incomplete"]


@pytest.mark.anyio
async def test_the_model_timeout_fails_a_trickling_run(openai_server: OpenAIServer, agent_db: SyncDb) -> None:
    """A streamed answer slower than the model's timeout fails the run with ModelTimeoutError, recorded."""
    openai_server.reply(" ".join(["slow"] * 40), chunk_delay=0.05)
    agent = Agent(model=model(openai_server, timeout=0.3), db=agent_db)
    with pytest.raises(ModelTimeoutError, match=r"timed out after 0\.3s"):
        await ask(agent, "Paris?", stream=True)
    status, _, error = stored(agent_db, agent)
    assert status is RunStatus.error
    assert error.startswith("ModelTimeoutError")


def test_tool_arguments_sent_are_what_the_tool_got(openai_server: OpenAIServer) -> None:
    """Valid arguments go back to the server exactly as the model sent them."""
    openai_server.reply(tool_calls=[("get_weather", {"city": "Paris"})])
    openai_server.reply("Sunny.")
    Agent(model=model(openai_server), tools=[Weather().get_weather]).run("Paris?")
    sent = openai_server.requests[1]["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(sent) == {"city": "Paris"}
