"""call_model against the loopback server: the retry policy, the whole-call timeout, streams cut short."""

from __future__ import annotations

import pytest

from kern.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelRequestError,
    ModelServerError,
    ModelTimeoutError,
)
from kern.models.call import call_model
from kern.models.litellm import LiteLLM
from kern.models.message import Message
from tests.support.openai_server import LLAMACPP_BAD_ARGUMENTS, OpenAIServer

ASK = [Message(role="user", content="What is the weather in Paris?")]
WORDS = " ".join(f"word{n}" for n in range(40))


def loopback(server: OpenAIServer, **settings: object) -> LiteLLM:
    """A LiteLLM pointed at the loopback server."""
    return LiteLLM("openai/loopback-model", api_base=server.base_url, api_key="sk-test", **settings)


async def texts(model: LiteLLM) -> list[str]:
    """Stream one answer through call_model; the text pieces handed on."""
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    await call_model(model, ASK, stream=True, on_text=on_text)
    return pieces


@pytest.mark.anyio
async def test_a_server_error_is_retried(openai_server: OpenAIServer) -> None:
    """A transient 500 is retried and the next answer returned."""
    openai_server.fail(500, message="upstream exploded")
    openai_server.reply("Sunny.")
    response = await call_model(loopback(openai_server), ASK)
    assert response.content == "Sunny."
    assert len(openai_server.requests) == 2


@pytest.mark.anyio
async def test_a_500_saying_the_request_is_malformed_is_not_retried(openai_server: OpenAIServer) -> None:
    """llama.cpp's 500 "Failed to parse tool call arguments as JSON" is a request error, sent once."""
    openai_server.fail(500, message=f"{LLAMACPP_BAD_ARGUMENTS}: [json.exception.parse_error.101]")
    with pytest.raises(ModelRequestError, match="not retried") as caught:
        await call_model(loopback(openai_server), ASK)
    assert caught.value.status_code == 500
    assert len(openai_server.requests) == 1


@pytest.mark.anyio
async def test_a_missing_key_is_not_retried_and_says_what_to_set(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No api_key and no OPENAI_API_KEY: ModelAuthenticationError naming the fix, nothing sent."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = LiteLLM("openai/loopback-model", api_base=openai_server.base_url)
    with pytest.raises(ModelAuthenticationError) as caught:
        await call_model(model, ASK)
    text = str(caught.value)
    assert "api_key=" in text
    assert "OPENAI_API_KEY" in text
    assert "api_key='dummy'" in text
    assert openai_server.requests == []


@pytest.mark.anyio
async def test_the_timeout_bounds_the_call_with_its_retries(openai_server: OpenAIServer) -> None:
    """timeout bounds all attempts together: slow failures end in ModelTimeoutError, not a third attempt."""
    for _ in range(2):
        openai_server.fail(500, message="slow failure", delay=0.3)
    openai_server.reply("finally", delay=0.3)
    with pytest.raises(ModelTimeoutError, match=r"timed out after 0\.5s \([12] attempts?\)"):
        await call_model(loopback(openai_server, timeout=0.5), ASK)
    assert len(openai_server.requests) < 3
    openai_server.clear()


@pytest.mark.anyio
async def test_the_timeout_bounds_a_trickling_stream(openai_server: OpenAIServer) -> None:
    """A stream that keeps trickling is stopped at the timeout, with the text received so far."""
    openai_server.reply(WORDS, chunk_delay=0.05)
    with pytest.raises(ModelTimeoutError, match="the last stream had delivered") as caught:
        await texts(loopback(openai_server, timeout=0.4))
    partial = caught.value.partial_content
    assert partial is not None
    assert WORDS.startswith(partial)
    assert 0 < len(partial) < len(WORDS)


@pytest.mark.anyio
async def test_a_stream_cut_mid_answer_says_how_far_it_got(openai_server: OpenAIServer) -> None:
    """A stream that dies after some deltas names the model, the URL and the deltas; the text is kept."""
    openai_server.reply("one two three four five six", cut_after=4)
    with pytest.raises(ModelConnectionError) as caught:
        await texts(loopback(openai_server))
    text = str(caught.value)
    assert "'openai/loopback-model'" in text
    assert openai_server.base_url in text
    assert "the stream broke after 3 deltas" in text
    assert caught.value.partial_content == "one two three "
    assert len(openai_server.requests) == 1, "text reached the consumer: a retry would repeat it"


@pytest.mark.anyio
async def test_no_answer_names_the_url_and_the_stage(openai_server: OpenAIServer) -> None:
    """A connection dropped before any byte names the model, the URL and that nothing had arrived."""
    for _ in range(3):
        openai_server.reply("never sent", cut_after=0)
    with pytest.raises(ModelConnectionError) as caught:
        await call_model(loopback(openai_server), ASK)
    text = str(caught.value)
    assert openai_server.base_url in text
    assert "before the response started" in text
    assert len(openai_server.requests) == 3


@pytest.mark.anyio
async def test_a_stream_broken_before_any_text_is_retried(openai_server: OpenAIServer) -> None:
    """A stream that breaks before text reached the consumer is retried like a failed call."""
    openai_server.reply("lost", cut_after=1)
    openai_server.reply("Sunny today.")
    assert "".join(await texts(loopback(openai_server))) == "Sunny today."
    assert len(openai_server.requests) == 2


@pytest.mark.anyio
async def test_retries_zero_means_one_attempt(openai_server: OpenAIServer) -> None:
    """retries= overrides the model's: 0 makes one attempt."""
    openai_server.fail(500)
    with pytest.raises(ModelServerError):
        await call_model(loopback(openai_server), ASK, retries=0)
    assert len(openai_server.requests) == 1
