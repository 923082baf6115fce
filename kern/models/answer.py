"""The one place a model's answer becomes the assistant message of the conversation.

Two things are decided here, for every model and server alike.

* **Truncation.** ``finish_reason == "length"`` means the model stopped at its output token limit
  (``max_tokens``, or the server's own: llama.cpp's ``n_predict``, a full context). A tool call cut off
  there has incomplete arguments (llama.cpp sends ``{"city": "``), so it must not run: the answer
  raises :class:`~kern.exceptions.ModelOutputError` naming the limit, and none of the answer's tool
  calls run (the text before them is kept on the failed run). A plain answer cut off is still the
  model's answer: it is returned, the run completes with ``RunOutput.finish_reason == "length"``, and a
  warning is logged (with an ``output_schema``, the cut-off JSON fails to parse and the error says why).
* **Arguments sent back.** The assistant message carries each tool call's arguments as the tool got
  them when they are a JSON object, else ``{}`` (the call's error result tells the model what was
  wrong), the raw text kept in the message's ``metadata["invalid_arguments"]`` by call id. Servers that
  render tool calls into a chat template (llama.cpp, vLLM) parse them, and refuse the whole next
  request when one is not JSON.
"""

from __future__ import annotations

from kern._private.log import get_logger
from kern.exceptions import ModelOutputError
from kern.models.base import Model, ModelResponse
from kern.models.message import Message, ToolCall, object_arguments

TRUNCATED = "length"
"""The ``finish_reason`` of an answer cut off by the output token limit."""

log = get_logger(__name__)


def answer_message(response: ModelResponse, model: Model) -> Message:
    """The assistant message for ``response``; ModelOutputError if it is a tool call cut off."""
    if response.finish_reason == TRUNCATED:
        if response.tool_calls:
            raise truncated_tool_calls(response, model)
        log.warning("model.answer_truncated", model=model.id, max_tokens=model.max_tokens)
    calls: list[ToolCall] = []
    invalid: dict[str, str] = {}
    for call in response.tool_calls:
        arguments = object_arguments(call.arguments)
        if arguments is None:
            invalid[call.id] = call.arguments
            arguments = "{}"
        same = arguments == call.arguments
        calls.append(call if same else call.model_copy(update={"arguments": arguments}))
    metadata = {"invalid_arguments": invalid} if invalid else {}
    return Message(role="assistant", content=response.content, tool_calls=calls, metadata=metadata)


def truncated_tool_calls(response: ModelResponse, model: Model) -> ModelOutputError:
    """The error for an answer whose tool calls the token limit cut off."""
    last = response.tool_calls[-1]
    count = len(response.tool_calls)
    calls = f"its call to {last.name!r}"
    if count > 1:
        calls = f"its {count} tool calls (the last to {last.name!r})"
    fix = _truncation_fix(response, model)
    return ModelOutputError(
        f"{model.describe()}: the answer was cut off by the output token limit (finish_reason 'length') "
        f"in {calls}; the arguments are incomplete ({last.arguments!r}), so no tool call of this answer "
        f"was run: {fix}",
        model=model.id,
        partial_content=response.content,
    )


def _truncation_fix(response: ModelResponse, model: Model) -> str:
    """What to change: max_tokens when it was the limit, else the server's own limit (a full context)."""
    used, limit = response.usage.output_tokens, model.max_tokens
    if limit is None:
        return (
            "no max_tokens was set, so the limit is the server's (llama.cpp: --n-predict, or the context "
            "size): set max_tokens, or give the server more"
        )
    if 0 < used < limit:  # the answer stopped short of max_tokens: the server's limit cut it
        return (
            f"it used {used} of max_tokens={limit}, so the server's own limit stopped it (a full context "
            f"of {response.usage.input_tokens} + {used} tokens, or llama.cpp's --n-predict): shorten the "
            "conversation or give the server a larger context"
        )
    return f"raise max_tokens (now {limit})"


def truncation_note(finish_reason: str | None) -> str:
    """What an error about the answer's content adds when the answer was cut off ("" otherwise)."""
    if finish_reason != TRUNCATED:
        return ""
    return " (the answer was cut off by the output token limit: finish_reason 'length'; raise max_tokens)"
