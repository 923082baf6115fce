"""answer_message: a model's answer becomes the assistant message; truncation and bad arguments."""

from __future__ import annotations

import logging

import pytest

from kern.exceptions import ModelOutputError
from kern.models._openai_format import message_to_openai
from kern.models.answer import answer_message
from kern.models.base import ModelResponse
from kern.models.litellm import LiteLLM
from kern.models.message import Message, ToolCall, object_arguments
from kern.testing import ScriptedModel

MODEL = LiteLLM("openai/local", api_base="http://127.0.0.1:8080/v1", api_key="dummy", max_tokens=16)
CUT = ToolCall(id="call_1", name="get_weather", arguments='{"city": "')


def test_text_answer_becomes_the_assistant_message() -> None:
    """A plain answer is an assistant message with its text and no calls."""
    message = answer_message(ModelResponse(content="Sunny.", finish_reason="stop"), MODEL)
    assert (message.role, message.content, message.tool_calls, message.metadata) == (
        "assistant",
        "Sunny.",
        [],
        {},
    )


def test_valid_arguments_are_kept_as_sent() -> None:
    """A call whose arguments are a JSON object is recorded exactly as the tool gets it."""
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')
    message = answer_message(ModelResponse(tool_calls=(call,), finish_reason="tool_calls"), MODEL)
    assert message.tool_calls == [call]


@pytest.mark.parametrize("raw", ['{"city": "Par', "[1, 2]", '"Paris"', "null", "{bad}"])
def test_arguments_that_are_not_an_object_are_sent_back_as_empty(raw: str) -> None:
    """Arguments that are not a JSON object become {} in the message, the raw text kept in metadata."""
    call = ToolCall(id="call_1", name="get_weather", arguments=raw)
    message = answer_message(ModelResponse(tool_calls=(call,), finish_reason="tool_calls"), MODEL)
    assert message.tool_calls[0].arguments == "{}"
    assert message.metadata == {"invalid_arguments": {"call_1": raw}}


def test_a_tool_call_cut_off_by_max_tokens_raises() -> None:
    """finish_reason 'length' with a tool call raises ModelOutputError naming max_tokens and the call."""
    response = ModelResponse(content="Let me look.", tool_calls=(CUT,), finish_reason="length")
    with pytest.raises(ModelOutputError) as caught:
        answer_message(response, MODEL)
    text = str(caught.value)
    assert "raise max_tokens (now 16)" in text
    assert "'get_weather'" in text
    assert "finish_reason 'length'" in text
    assert "http://127.0.0.1:8080/v1" in text
    assert caught.value.partial_content == "Let me look."


def test_a_cut_off_tool_call_without_max_tokens_names_the_servers_limit() -> None:
    """Without max_tokens set, the error says the limit is the server's (llama.cpp's --n-predict)."""
    response = ModelResponse(tool_calls=(CUT,), finish_reason="length")
    with pytest.raises(ModelOutputError, match="--n-predict"):
        answer_message(response, ScriptedModel())


def test_a_cut_off_call_short_of_max_tokens_names_the_full_context() -> None:
    """An answer cut off before it used max_tokens hit the server's limit (a full context): the error
    says so rather than asking for a higher max_tokens."""
    from kern.models.base import Usage

    response = ModelResponse(
        tool_calls=(CUT,), finish_reason="length", usage=Usage(input_tokens=2025, output_tokens=5)
    )
    with pytest.raises(ModelOutputError) as caught:
        answer_message(response, MODEL)
    text = str(caught.value)
    assert "used 5 of max_tokens=16" in text
    assert "2025 + 5" in text
    assert "raise max_tokens" not in text


def test_complete_calls_of_a_cut_off_answer_raise_too() -> None:
    """Even a call whose arguments parse is refused when the answer was cut off: the turn is incomplete."""
    whole = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Paris"}')
    response = ModelResponse(tool_calls=(whole, CUT), finish_reason="length")
    with pytest.raises(ModelOutputError, match="2 tool calls"):
        answer_message(response, MODEL)


def test_a_text_answer_cut_off_is_kept_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A plain answer cut off by the limit is still the answer; a warning names the model and the limit."""
    with caplog.at_level(logging.WARNING, logger="kern"):
        message = answer_message(ModelResponse(content="The weather in", finish_reason="length"), MODEL)
    assert message.content == "The weather in"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("kern")] == ["model.answer_truncated"]


@pytest.mark.parametrize(
    ("raw", "sent"), [('{"a": 1}', '{"a": 1}'), ("", "{}"), ("  ", "{}"), ('{"a": ', None), ("[]", None)]
)
def test_object_arguments(raw: str, sent: str | None) -> None:
    """object_arguments keeps a JSON object's text, reads empty text as {}, and refuses anything else."""
    assert object_arguments(raw) == sent


def test_the_wire_never_carries_arguments_that_are_not_an_object() -> None:
    """A hand-built or older stored message with broken arguments is sent with {} instead."""
    message = Message(role="assistant", tool_calls=[CUT])
    assert message_to_openai(message)["tool_calls"][0]["function"]["arguments"] == "{}"
