"""LiteLLM against the loopback OpenAI server: requests, answers, streams, error mapping and retries."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import aclosing, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anyio
import pytest
from pydantic import BaseModel

import kern.models.litellm
from kern.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
    UsageError,
)
from kern.models.base import ModelDelta, ResponseAssembler, ToolDefinition, Usage
from kern.models.litellm import LiteLLM, model_error
from kern.models.message import Message, ToolCall
from kern.models.retry import retry_delay, with_retries
from tests.support.openai_server import NO_REPLY_LEFT, OpenAIServer, Reply

ADD_ITEM = ToolDefinition(
    name="add_item",
    description="Add an item to the shopping list.",
    parameters={"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]},
)
ASK = [Message(role="user", content="Add milk to my list.")]


def loopback(server: OpenAIServer, **settings: object) -> LiteLLM:
    """A LiteLLM pointed at the loopback server."""
    return LiteLLM("openai/loopback-model", api_base=server.base_url, api_key="sk-test", **settings)


async def collect(
    model: LiteLLM, messages: list[Message], tools: Sequence[ToolDefinition] = ()
) -> list[ModelDelta]:
    """Every delta of one streamed answer."""
    return [delta async for delta in model.stream(messages, tools=tools)]


async def failure(model: LiteLLM) -> ModelError:
    """The ModelError one call raises."""
    with pytest.raises(ModelError) as caught:
        await model.response(ASK)
    return caught.value


@contextmanager
def silent_port() -> Iterator[str]:
    """The base URL of a port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def closed_port_url() -> str:
    """The base URL of a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# -- answers -------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_text_reply(openai_server: OpenAIServer) -> None:
    """A text answer comes back as the response content."""
    openai_server.reply("Milk added.")
    response = await loopback(openai_server).response(ASK)
    assert (response.content, response.tool_calls, response.finish_reason) == ("Milk added.", (), "stop")


@pytest.mark.anyio
async def test_usage(openai_server: OpenAIServer) -> None:
    """Prompt and completion tokens become input and output tokens."""
    openai_server.reply("Done.", usage=(42, 7))
    response = await loopback(openai_server).response(ASK)
    assert response.usage == Usage(input_tokens=42, output_tokens=7)


@pytest.mark.anyio
async def test_request_carries_model_and_messages(openai_server: OpenAIServer) -> None:
    """The provider gets the model name and the conversation in the OpenAI format."""
    openai_server.reply("Done.")
    conversation = [
        Message(role="system", content="You keep a shopping list."),
        Message(role="user", content="Add milk.", name="ana", metadata={"kept": "by Kern"}),
        Message(
            role="assistant", tool_calls=[ToolCall(id="call_9", name="add_item", arguments='{"item":"milk"}')]
        ),
        Message(role="tool", tool_call_id="call_9", content="added"),
    ]
    await loopback(openai_server).response(conversation)
    request = openai_server.requests[0]
    assert request["model"] == "loopback-model"
    assert request["messages"] == [
        {"role": "system", "content": "You keep a shopping list."},
        {"role": "user", "content": "Add milk.", "name": "ana"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "add_item", "arguments": '{"item":"milk"}'},
                }
            ],
        },
        {"role": "tool", "content": "added", "tool_call_id": "call_9"},
    ]


@pytest.mark.anyio
async def test_settings_are_passed_through(openai_server: OpenAIServer) -> None:
    """Settings given at construction reach the provider on every call."""
    openai_server.reply("Done.")
    await loopback(openai_server, temperature=0.25, max_tokens=64).response(ASK)
    assert (openai_server.requests[0]["temperature"], openai_server.requests[0]["max_tokens"]) == (0.25, 64)


@pytest.mark.anyio
async def test_request_carries_tool_schemas(openai_server: OpenAIServer) -> None:
    """The tools on offer are sent as OpenAI function tools with their JSON schema."""
    openai_server.reply("Nothing to do.")
    await loopback(openai_server).response(ASK, tools=[ADD_ITEM])
    assert openai_server.requests[0]["tools"] == [ADD_ITEM.to_openai()]


@pytest.mark.anyio
async def test_tool_calls_are_parsed(openai_server: OpenAIServer) -> None:
    """The tool calls the model asks for come back with their id, name and raw JSON arguments.

    Any call with tools also proves litellm's import of ``mcp`` (see the ``litellm`` extra) works.
    """
    openai_server.reply(tool_calls=[("add_item", {"item": "milk"}), ("add_item", {"item": "eggs"})])
    response = await loopback(openai_server).response(ASK, tools=[ADD_ITEM])
    assert [(call.name, json.loads(call.arguments)) for call in response.tool_calls] == [
        ("add_item", {"item": "milk"}),
        ("add_item", {"item": "eggs"}),
    ]
    assert len({call.id for call in response.tool_calls}) == 2
    assert response.finish_reason == "tool_calls"


@pytest.mark.anyio
async def test_malformed_arguments_are_kept_verbatim(openai_server: OpenAIServer) -> None:
    """Arguments that are not valid JSON reach Kern unchanged, for the tool layer to report."""
    openai_server.reply(tool_calls=[("add_item", '{"item": "mil')])
    response = await loopback(openai_server).response(ASK, tools=[ADD_ITEM])
    assert response.tool_calls[0].arguments == '{"item": "mil'


@pytest.mark.anyio
async def test_tool_call_round_trip(openai_server: OpenAIServer) -> None:
    """A tool call answered with its result is sent back linked by the call id, then the model answers."""
    model = loopback(openai_server)
    openai_server.reply(tool_calls=[("add_item", {"item": "milk"})])
    openai_server.reply("Milk is on the list.")
    first = await model.response(ASK, tools=[ADD_ITEM])
    call = first.tool_calls[0]
    follow_up = [
        *ASK,
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id=call.id, content="added milk"),
    ]
    second = await model.response(follow_up, tools=[ADD_ITEM])
    sent = openai_server.requests[1]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "content": "added milk", "tool_call_id": call.id}
    assert second.content == "Milk is on the list."


class ShoppingList(BaseModel):
    items: list[str]


@pytest.mark.anyio
async def test_output_schema_is_sent_as_response_format(openai_server: OpenAIServer) -> None:
    """An output schema asks for JSON matching the pydantic model's schema."""
    openai_server.reply('{"items": ["milk"]}')
    response = await loopback(openai_server).response(ASK, output_schema=ShoppingList)
    assert openai_server.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "ShoppingList", "schema": ShoppingList.model_json_schema()},
    }
    assert ShoppingList.model_validate_json(response.content or "") == ShoppingList(items=["milk"])


@pytest.mark.anyio
async def test_concurrent_calls_share_one_model(openai_server: OpenAIServer) -> None:
    """One instance serves concurrent calls, each getting its own answer."""
    openai_server.responder = lambda request: Reply(content="echo: " + request["messages"][-1]["content"])
    model = loopback(openai_server)
    answers: dict[str, str | None] = {}

    async def ask(text: str) -> None:
        answers[text] = (await model.response([Message(role="user", content=text)])).content

    async with anyio.create_task_group() as group:
        for text in ("one", "two", "three"):
            group.start_soon(ask, text)
    assert answers == {"one": "echo: one", "two": "echo: two", "three": "echo: three"}


# -- streams -------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stream_text(openai_server: OpenAIServer) -> None:
    """A streamed answer arrives in several text deltas that add up to the text."""
    openai_server.reply("Milk is on the list now.")
    deltas = await collect(loopback(openai_server), ASK)
    texts = [delta.content for delta in deltas if delta.content]
    assert len(texts) > 1
    assert "".join(texts) == "Milk is on the list now."
    assert openai_server.requests[0]["stream"] is True


@pytest.mark.anyio
async def test_stream_usage_and_finish_reason(openai_server: OpenAIServer) -> None:
    """A stream asks for usage and yields it, and the finish reason, once."""
    openai_server.reply("Done.", usage=(30, 4))
    deltas = await collect(loopback(openai_server), ASK)
    assert openai_server.requests[0]["stream_options"] == {"include_usage": True}
    assert [delta.usage for delta in deltas if delta.usage] == [Usage(30, 4)]
    assert [delta.finish_reason for delta in deltas if delta.finish_reason] == ["stop"]


@pytest.mark.anyio
async def test_stream_tool_fragments_pass_through(openai_server: OpenAIServer) -> None:
    """Streamed tool-call fragments reach Kern as sent: id and name on each call's first fragment only."""
    openai_server.reply(tool_calls=[("add_item", {"item": "milk"}), ("add_item", {"item": "eggs"})])
    deltas = await collect(loopback(openai_server), ASK, tools=[ADD_ITEM])
    fragments = [fragment for delta in deltas for fragment in delta.tool_calls]
    assert [(f.index, f.name) for f in fragments if f.id is not None] == [(0, "add_item"), (1, "add_item")]
    assert all(f.name is None for f in fragments if f.id is None)
    indexes = [f.index for f in fragments]
    assert indexes != sorted(indexes), "fragments of the two calls should arrive interleaved"


@pytest.mark.anyio
async def test_stream_interleaved_tool_calls_are_assembled(openai_server: OpenAIServer) -> None:
    """ResponseAssembler rebuilds interleaved, fragmented tool calls into the calls the model made."""
    openai_server.reply(
        "Adding both.",
        tool_calls=[("add_item", {"item": "oat milk"}), ("add_item", {"item": "free-range eggs"})],
        usage=(20, 9),
    )
    assembler = ResponseAssembler()
    async for delta in loopback(openai_server).stream(ASK, tools=[ADD_ITEM]):
        assembler.add(delta)
    response = assembler.build()
    assert [(call.name, json.loads(call.arguments)) for call in response.tool_calls] == [
        ("add_item", {"item": "oat milk"}),
        ("add_item", {"item": "free-range eggs"}),
    ]
    assert (response.content, response.usage, response.finish_reason) == (
        "Adding both.",
        Usage(20, 9),
        "tool_calls",
    )


@pytest.mark.anyio
async def test_stream_closed_early(openai_server: OpenAIServer) -> None:
    """A consumer may stop reading a stream part-way; the model stays usable."""
    model = loopback(openai_server)
    openai_server.reply("A long answer that the caller stops reading.")
    openai_server.reply("Next.")
    async with aclosing(model.stream(ASK)) as deltas:
        async for _delta in deltas:
            break
    assert (await model.response(ASK)).content == "Next."


# -- errors --------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (429, ModelRateLimitError),
        (500, ModelServerError),
        (503, ModelServerError),
        (401, ModelAuthenticationError),
        (403, ModelAuthenticationError),
        (400, ModelRequestError),
        (404, ModelRequestError),
    ],
)
async def test_error_status_is_mapped(
    openai_server: OpenAIServer, status: int, error_class: type[ModelError]
) -> None:
    """Each provider failure surfaces as its ModelError, naming the model, the original chained."""
    openai_server.fail(status)
    error = await failure(loopback(openai_server))
    assert type(error) is error_class
    assert (error.status_code, error.model) == (status, "openai/loopback-model")
    assert "openai/loopback-model" in str(error)
    assert error.__cause__ is not None


@pytest.mark.anyio
async def test_stream_error_is_mapped(openai_server: OpenAIServer) -> None:
    """A stream that fails to start raises the same ModelError as a whole answer."""
    openai_server.fail(503)
    with pytest.raises(ModelServerError):
        await collect(loopback(openai_server), ASK)


@pytest.mark.anyio
async def test_rate_limit_retry_after_header(openai_server: OpenAIServer) -> None:
    """The Retry-After header becomes the error's retry_after."""
    openai_server.fail(429, retry_after=1.5)
    error = await failure(loopback(openai_server))
    assert isinstance(error, ModelRateLimitError)
    assert error.retry_after == 1.5


@pytest.mark.anyio
async def test_rate_limit_retry_after_ms_header(openai_server: OpenAIServer) -> None:
    """The retry-after-ms header wins over Retry-After, being more precise."""
    openai_server.fail(429, retry_after=1, retry_after_ms=250)
    error = await failure(loopback(openai_server))
    assert isinstance(error, ModelRateLimitError)
    assert error.retry_after == 0.25


@pytest.mark.anyio
async def test_rate_limit_retry_after_http_date(openai_server: OpenAIServer) -> None:
    """A Retry-After given as an HTTP date becomes the seconds until then."""
    openai_server.fail(
        429, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    )
    error = await failure(loopback(openai_server))
    assert isinstance(error, ModelRateLimitError)
    assert error.retry_after is not None
    assert 50 < error.retry_after <= 60


@pytest.mark.anyio
@pytest.mark.parametrize("header", ["soon", "nan"])
async def test_rate_limit_without_usable_hint(openai_server: OpenAIServer, header: str) -> None:
    """A 429 whose Retry-After is not a number of seconds or a date has no retry_after."""
    openai_server.fail(429, retry_after=header)
    error = await failure(loopback(openai_server))
    assert isinstance(error, ModelRateLimitError)
    assert error.retry_after is None


@pytest.mark.anyio
async def test_connection_refused_is_a_connection_error() -> None:
    """A server that is not there raises ModelConnectionError (litellm reports it as a 500)."""
    model = LiteLLM("openai/loopback-model", api_base=closed_port_url(), api_key="sk-test")
    with pytest.raises(ModelConnectionError, match="no answer"):
        await model.response(ASK)


@pytest.mark.anyio
async def test_connection_errors_name_the_url_and_the_stage() -> None:
    """A server that is not there: the error names the model, the URL, and that no response had started."""
    url = closed_port_url()
    model = LiteLLM("openai/loopback-model", api_base=url, api_key="sk-test")
    with pytest.raises(ModelConnectionError) as caught:
        await model.response(ASK)
    expected = f"model 'openai/loopback-model' at {url}: no answer (before the response started)"
    assert expected in str(caught.value)


@pytest.mark.anyio
async def test_timeout_is_a_connection_error() -> None:
    """A server that never answers within ``timeout`` raises ModelConnectionError."""
    with silent_port() as url:
        model = LiteLLM("openai/loopback-model", api_base=url, api_key="sk-test", timeout=0.2)
        with pytest.raises(ModelConnectionError):
            await model.response(ASK)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_no_internal_retry(openai_server: OpenAIServer, status: int) -> None:
    """With nobody retrying, a failing call reaches the provider exactly once (litellm/openai retries off)."""
    openai_server.fail(status, retry_after=0)
    await failure(loopback(openai_server))
    assert len(openai_server.requests) == 1


def test_missing_module_is_reported_with_the_fix() -> None:
    """litellm's wrapped ImportError (no ``mcp``, say) becomes a non-retryable error naming the fix."""
    import litellm

    try:
        try:
            raise ModuleNotFoundError("No module named 'mcp'", name="mcp")
        except ModuleNotFoundError as missing:
            raise litellm.APIConnectionError(message=str(missing), llm_provider="openai", model="m") from None
    except litellm.APIConnectionError as wrapped:
        error = model_error(wrapped, "openai/m")
    assert isinstance(error, ModelRequestError)
    assert "kern[litellm]" in str(error)


@pytest.mark.anyio
async def test_missing_litellm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without litellm installed, the first call says which extra to install."""
    monkeypatch.setattr(kern.models.litellm, "_module", None)
    monkeypatch.setitem(sys.modules, "litellm", None)
    with pytest.raises(ModuleNotFoundError, match=re.escape("pip install 'kern[litellm]'")):
        await LiteLLM("openai/x", api_key="sk-test").response(ASK)


def test_other_exceptions_are_not_provider_errors() -> None:
    """An exception that is not a provider failure is left alone, to propagate unchanged."""
    assert model_error(ValueError("a bug"), "openai/m") is None


# -- retries through the run loop's helper -------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 500])
async def test_with_retries_recovers(openai_server: OpenAIServer, status: int) -> None:
    """with_retries retries a rate limit or server error and returns the next answer."""
    openai_server.fail(status)
    openai_server.reply("Recovered.")
    model = loopback(openai_server)
    response = await with_retries(lambda: model.response(ASK), retries=model.retries, base_delay=0.001)
    assert response.content == "Recovered."
    assert len(openai_server.requests) == 2


@pytest.mark.anyio
async def test_with_retries_gives_up_on_bad_key(openai_server: OpenAIServer) -> None:
    """A refused key is not retried."""
    openai_server.fail(401)
    model = loopback(openai_server)
    with pytest.raises(ModelAuthenticationError):
        await with_retries(lambda: model.response(ASK), retries=model.retries, base_delay=0.001)
    assert len(openai_server.requests) == 1


@pytest.mark.anyio
async def test_retry_delay_honours_the_providers_hint(openai_server: OpenAIServer) -> None:
    """The Retry-After hint of a real 429 sets the delay before the next attempt."""
    openai_server.fail(429, retry_after=1.5)
    error = await failure(loopback(openai_server))
    assert retry_delay(error, 0, base_delay=0.001, max_delay=30) == 1.5


# -- the object ----------------------------------------------------------------------------------------


def test_repr_hides_the_key() -> None:
    """repr names the model and its settings but never the key."""
    model = LiteLLM("openai/gpt-4o-mini", api_base="http://llm:8000/v1", api_key="sk-secret", temperature=0)
    assert "sk-secret" not in repr(model)
    assert repr(model) == (
        "LiteLLM('openai/gpt-4o-mini', api_base='http://llm:8000/v1', api_key='***', retries=2, "
        "temperature=0)"
    )


def test_repr_hides_secret_settings() -> None:
    """A setting whose name suggests a secret is masked in repr."""
    model = LiteLLM("openai/gpt-4o-mini", extra_headers={"Authorization": "Bearer sk-secret"})
    assert "sk-secret" not in repr(model)


@pytest.mark.parametrize("setting", ["max_tokens", "max_completion_tokens"])
def test_repr_shows_token_counts(setting: str) -> None:
    """Settings that merely mention tokens are shown: secrets are hidden by name, not by substring."""
    assert f"{setting}=64" in repr(LiteLLM("openai/gpt-4o-mini", **{setting: 64}))


@pytest.mark.parametrize(
    "setting", ["aws_secret_access_key", "aws_session_token", "azure_ad_token", "vertex_credentials"]
)
def test_repr_hides_secrets_by_name(setting: str) -> None:
    """A setting named as a key, token, secret or credentials is masked."""
    shown = repr(LiteLLM("openai/gpt-4o-mini", **{setting: "s3cr3t"}))
    assert "s3cr3t" not in shown
    assert f"{setting}='***'" in shown


def test_repr_shows_header_names_not_values() -> None:
    """extra_headers shows which headers are sent, never their values."""
    model = LiteLLM("openai/gpt-4o-mini", extra_headers={"Authorization": "Bearer sk-secret", "X-Team": "a"})
    assert "extra_headers={'Authorization': '***', 'X-Team': '***'}" in repr(model)


@pytest.mark.anyio
async def test_a_model_known_to_lack_tool_support_is_warned_about_once(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tools offered to a model litellm's map says cannot call them: one warning; the tools still go."""
    monkeypatch.setattr(kern.models.litellm, "_tool_support_checked", set())
    model = LiteLLM("openai/gpt-5-chat", api_base=openai_server.base_url, api_key="dummy")
    openai_server.reply("No tools here.")
    openai_server.reply("Still none.")
    with caplog.at_level("WARNING", logger="kern"):
        await model.response(ASK, tools=[ADD_ITEM])
        await model.response(ASK, tools=[ADD_ITEM])
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("kern")]
    assert warned == ["model.tools_unsupported"]
    assert all(request["tools"] == [ADD_ITEM.to_openai()] for request in openai_server.requests)


@pytest.mark.anyio
async def test_an_unknown_model_is_not_guessed_about(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A model litellm does not know (most local ones) gets no tool-support warning."""
    monkeypatch.setattr(kern.models.litellm, "_tool_support_checked", set())
    openai_server.reply("Fine.")
    with caplog.at_level("WARNING", logger="kern"):
        await loopback(openai_server).response(ASK, tools=[ADD_ITEM])
    assert [r for r in caplog.records if r.name.startswith("kern")] == []


def test_immutable() -> None:
    """A built model cannot be changed, so sharing it between runs is safe."""
    model = LiteLLM("openai/gpt-4o-mini", temperature=0)
    with pytest.raises(AttributeError):
        model.retries = 5
    with pytest.raises(TypeError):
        model.settings["temperature"] = 1


def test_base_url_is_an_alias_of_api_base() -> None:
    """base_url sets api_base."""
    assert LiteLLM("openai/x", base_url="http://llm/v1").api_base == "http://llm/v1"


def test_disagreeing_base_urls_are_refused() -> None:
    """api_base and base_url naming different servers is a usage error."""
    with pytest.raises(UsageError, match="disagree"):
        LiteLLM("openai/x", api_base="http://a/v1", base_url="http://b/v1")


@pytest.mark.parametrize("setting", ["num_retries", "max_retries", "stream", "model", "messages"])
def test_reserved_settings_are_refused(setting: str) -> None:
    """Settings that would fight Kern's own request keys are refused."""
    with pytest.raises(UsageError, match=setting):
        LiteLLM("openai/x", **{setting: 1})


@pytest.mark.slow
def test_import_does_not_import_litellm() -> None:
    """Importing Kern's model modules leaves litellm unimported until the first call."""
    code = (
        "import sys, kern.models.litellm, kern.models.openai\n"
        "kern.models.openai.OpenAIChat('gpt-4o-mini', api_key='sk')\n"
        "print(sorted(m for m in ('litellm', 'openai') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# -- the loopback server's own guarantees ---------------------------------------------------------------


@pytest.mark.anyio
async def test_loopback_reports_a_missing_reply(openai_server: OpenAIServer) -> None:
    """A call with no scripted reply left fails with a 500 and is recorded as a server error."""
    error = await failure(loopback(openai_server))
    assert isinstance(error, ModelServerError)
    assert openai_server.problems() == [NO_REPLY_LEFT]
    openai_server.clear()


def test_loopback_reports_an_unconsumed_reply() -> None:
    """A scripted reply nobody asked for is reported, so the fixture can fail the test."""
    with OpenAIServer() as server:
        server.reply("never requested")
        assert server.problems() == ["1 scripted reply never requested"]


def test_loopback_serves_plain_sync_clients(openai_server: OpenAIServer) -> None:
    """Sync code (and subprocesses) reach the server over plain HTTP."""
    openai_server.reply("hello")
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        openai_server.base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        completion = json.loads(answer.read())
    assert completion["choices"][0]["message"]["content"] == "hello"
