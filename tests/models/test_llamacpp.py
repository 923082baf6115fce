"""Kern against a real OpenAI-compatible server nobody here wrote: llama.cpp's, with Gemma 3 270M.

The server (xllamacpp, in a child process; see tests/models/llamacpp/) is started once per session on
a free loopback port, greedy (temperature 0, seed 42) with a 2048-token context and 2 threads, and a
tool-capable template shipped with the tests. Each test puts a recording proxy between Kern and the
server, and asserts protocol facts (what Kern sent, what the server answered, what Kern made of it),
never the model's wording. Without the ``llamacpp`` extra the tier is skipped locally and fails in CI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kern.agent import Agent
from kern.db.in_memory import InMemoryDb
from kern.exceptions import KernError, ModelError, ModelRequestError
from kern.models.litellm import LiteLLM
from kern.run import RunCompleted, RunContent, RunOutput, RunStatus
from kern.session.schema import SessionType
from tests.models.llamacpp.server import Exchange, LlamaServer, RecordingProxy, missing_packages, model_file

pytestmark = [pytest.mark.llamacpp, pytest.mark.slow]

# What every model of the tier sends: greedy, one call per answer, one line per turn (see the template).
SETTINGS: dict[str, Any] = {
    "temperature": 0.0,
    "seed": 42,
    "max_tokens": 48,
    "stop": ["\n"],
    "parallel_tool_calls": False,
}
WEATHER = "What is the weather in Paris?"
# Output tokens of `<tool_call>{"name": "get_weather", "arguments": {"city": "` : the cut lands inside
# the arguments (test_max_tokens_cuts_the_tool_call_inside_its_arguments checks that it still does).
TRUNCATING_MAX_TOKENS = 20


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name.
    """
    return f"Sunny and 21 C in {city}."


def gemma(base_url: str, **settings: Any) -> LiteLLM:
    """A LiteLLM for the llama.cpp server at ``base_url`` (any key: the server checks none).

    ``settings`` override :data:`SETTINGS`; a setting given as None is left out.
    """
    chosen = {name: value for name, value in (SETTINGS | settings).items() if value is not None}
    return LiteLLM(id="openai/gemma-3-270m", api_base=base_url, api_key="dummy", timeout=60, **chosen)


def is_json(text: str) -> bool:
    """Whether ``text`` parses as JSON."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def sent_arguments(requests: list[dict[str, Any]]) -> list[str]:
    """The tool-call arguments of every assistant message in ``requests``, as Kern sent them."""
    return [
        call["function"]["arguments"]
        for request in requests
        for message in request["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or []
    ]


# -- the server -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gguf() -> Path:
    """The model file; the tier is skipped without its packages locally, and fails without them in CI."""
    missing = missing_packages()
    if missing:
        reason = f"the llama.cpp tier needs {', '.join(missing)}: pip install -e '.[llamacpp]'"
        if os.environ.get("CI"):
            pytest.fail(f"the llama.cpp tier is required in CI: {reason}")
        pytest.skip(reason)
    return model_file()


@pytest.fixture(scope="session")
def llama(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's server, shared by the tier; its template must report tool support."""
    with LlamaServer(gguf, tmp_path_factory.mktemp("llamacpp") / "server.log") as server:
        caps = server.props()["chat_template_caps"]
        assert caps["supports_tools"], caps
        assert caps["supports_tool_calls"], caps
        yield server


@pytest.fixture
def proxy(llama: LlamaServer) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the shared server."""
    with RecordingProxy(llama.url) as recording:
        yield recording


# -- answers --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_plain_run_records_the_servers_usage(proxy: RecordingProxy) -> None:
    """A plain run completes with text, and its metrics are the usage llama.cpp reported."""
    output = await Agent(model=gemma(proxy.base_url)).arun("Say hello.")
    assert output.status == RunStatus.completed
    assert isinstance(output.content, str)
    assert output.content.strip()
    [exchange] = proxy.exchanges
    assert (exchange.status, exchange.finish_reason()) == (200, "stop")
    usage = exchange.answer()["usage"]
    assert output.metrics.input_tokens == usage["prompt_tokens"] > 0
    assert output.metrics.output_tokens == usage["completion_tokens"] > 0


@pytest.mark.anyio
async def test_streamed_deltas_concatenate_to_the_content(proxy: RecordingProxy) -> None:
    """The RunContent deltas of a streamed run join to the final content, as llama.cpp streamed it."""
    agent = Agent(model=gemma(proxy.base_url))
    events = [event async for event in agent.arun("Say hello.", stream=True)]
    deltas = [event.content for event in events if isinstance(event, RunContent)]
    [completed] = [event for event in events if isinstance(event, RunCompleted)]
    assert len(deltas) > 1
    assert "".join(deltas) == completed.output.content
    [exchange] = proxy.exchanges
    assert exchange.stream
    assert exchange.status == 200
    streamed = [c["delta"].get("content") or "" for chunk in exchange.chunks() for c in chunk["choices"]]
    assert "".join(streamed) == completed.output.content


@pytest.mark.anyio
async def test_tool_call_round_trip(proxy: RecordingProxy) -> None:
    """The model's tool call runs, and its result reaches the next model call under the call's id."""
    # Offered the tool again, the base model calls it again and again; with the limit, the second
    # call is offered none and it answers in text.
    agent = Agent(model=gemma(proxy.base_url), tools=[get_weather], tool_call_limit=1)
    output = await agent.arun(WEATHER)
    assert output.status == RunStatus.completed
    first, second = proxy.exchanges
    assert first.finish_reason() == "tool_calls"
    [call] = first.tool_calls()
    assert call["function"]["name"] == "get_weather"
    [execution] = output.tools
    assert (execution.call_id, execution.name, execution.is_error) == (call["id"], "get_weather", False)
    assert json.loads(execution.arguments) == json.loads(call["function"]["arguments"])
    tool_messages = [m for m in second.request["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [(call["id"], execution.result)]
    assert second.status == 200


# -- a tool call cut off by max_tokens -----------------------------------------------------------------------


@dataclass
class TruncatedRun:
    """A run whose first answer is a tool call cut off by max_tokens: the exchanges and how it ended."""

    exchanges: list[Exchange]
    output: RunOutput | None = None
    error: BaseException | None = None
    stored: list[RunStatus] = field(default_factory=list[RunStatus])


@pytest.fixture(scope="module")
def truncated(llama: LlamaServer) -> TruncatedRun:
    """One run with max_tokens cutting the tool call, shared by the tests of what it did."""
    db = InMemoryDb()
    with RecordingProxy(llama.url) as recording:
        model = gemma(recording.base_url, max_tokens=TRUNCATING_MAX_TOKENS)
        # The limit bounds the run whatever Kern does with the cut-off call.
        agent = Agent(model=model, tools=[get_weather], db=db, tool_call_limit=3)
        result = TruncatedRun(exchanges=recording.exchanges)
        try:
            result.output = agent.run(WEATHER)
        except KernError as exc:
            result.error = exc
    session = db.get_session(agent.session_id, SessionType.AGENT)
    result.stored = [run.status for run in session.runs] if session is not None else []
    db.close()
    return result


def test_max_tokens_cuts_the_tool_call_inside_its_arguments(truncated: TruncatedRun) -> None:
    """llama.cpp answers a cut-off call with finish_reason "length" and arguments that are not JSON."""
    first = truncated.exchanges[0]
    assert (first.status, first.finish_reason()) == (200, "length")
    [call] = first.tool_calls()
    assert call["function"]["name"] == "get_weather"
    assert not is_json(call["function"]["arguments"])


def test_no_request_carries_invalid_tool_call_arguments(truncated: TruncatedRun) -> None:
    """Kern never sends tool-call arguments back that are not valid JSON."""
    requests = [exchange.request for exchange in truncated.exchanges]
    assert all(is_json(arguments) for arguments in sent_arguments(requests))
    assert all(exchange.status == 200 for exchange in truncated.exchanges)


def test_truncated_call_completes_or_fails_naming_max_tokens(truncated: TruncatedRun) -> None:
    """The run either completes or fails with a ModelError that says max_tokens cut the answer off."""
    if truncated.error is None:
        assert truncated.output is not None
        assert truncated.output.status == RunStatus.completed
        assert truncated.stored == [RunStatus.completed]
    else:
        assert isinstance(truncated.error, ModelError)
        assert "max_tokens" in str(truncated.error)
        assert truncated.stored == [RunStatus.error]


# -- failures -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_server_killed_mid_stream_fails_the_run_with_a_model_error(gguf: Path, tmp_path: Path) -> None:
    """A server killed mid-stream fails the run with a Kern ModelError, and the run is stored as error."""
    db = InMemoryDb()
    with LlamaServer(gguf, tmp_path / "server.log") as doomed:
        # No stop sequence: the base model rambles on, so the stream is still going when it is killed.
        model = gemma(doomed.url + "/v1", stop=None, max_tokens=400)
        agent = Agent(model=model, db=db)
        events: list[object] = []

        async def consume() -> None:
            async for event in agent.arun("Tell me a long story about a dragon.", stream=True):
                events.append(event)
                if isinstance(event, RunContent):
                    doomed.kill()

        with pytest.raises(ModelError) as caught:
            await consume()
    assert any(isinstance(event, RunContent) for event in events)
    assert not any(isinstance(event, RunCompleted) for event in events)
    session = db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    assert [run.status for run in session.runs] == [RunStatus.error]
    assert caught.value.__cause__ is not None  # the provider's error, chained
    db.close()


@pytest.mark.anyio
async def test_context_overflow_is_a_request_error_not_retried(proxy: RecordingProxy) -> None:
    """A prompt longer than the server's context fails at once with ModelRequestError (HTTP 400)."""
    prompt = "word " * 3000  # about 3000 tokens, the context holds 2048
    agent = Agent(model=gemma(proxy.base_url), retries=2)
    with pytest.raises(ModelRequestError) as caught:
        await agent.arun(prompt)
    assert caught.value.status_code == 400
    assert "context" in str(caught.value)
    [exchange] = proxy.exchanges
    assert exchange.status == 400
    assert exchange.answer()["error"]["type"] == "exceed_context_size_error"
