"""Conversion between Kern's model types and the OpenAI chat-completions format.

litellm speaks this format for every provider, so it is the one wire format Kern converts to and
from. Answers are read field by field through :func:`_field`, which accepts litellm's response objects
and plain JSON dicts alike: the untyped provider objects stop at this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from pydantic import BaseModel

from kern.models.base import ModelDelta, ModelResponse, ToolCallDelta, ToolDefinition, Usage
from kern.models.message import Message, ToolCall, object_arguments


def messages_to_openai(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The ``messages`` of a chat-completions request."""
    return [message_to_openai(message) for message in messages]


def message_to_openai(message: Message) -> dict[str, Any]:
    """One message; ``metadata`` stays with Kern."""
    content = message.content if message.content is not None or message.role == "assistant" else ""
    entry: dict[str, Any] = {"role": message.role, "content": content}
    if message.name is not None:
        entry["name"] = message.name
    if message.tool_calls:
        entry["tool_calls"] = [_tool_call_to_openai(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        entry["tool_call_id"] = message.tool_call_id
    return entry


def _tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    """A call of an assistant message. Its arguments are a JSON object already when Kern's loop made the
    message (kern.models.answer); ``{}`` stands in for anything else (a message built by hand, or
    stored by an older Kern), which chat-template servers would refuse."""
    arguments = object_arguments(call.arguments) or "{}"
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def tools_to_openai(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    """The ``tools`` of a chat-completions request."""
    return [tool.to_openai() for tool in tools]


def response_format(schema: type[BaseModel]) -> dict[str, Any]:
    """The ``response_format`` asking for JSON that matches ``schema``."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema.model_json_schema()}}


def parse_response(raw: Any) -> ModelResponse:
    """A :class:`ModelResponse` from a chat completion (first choice)."""
    choices = _list(_field(raw, "choices"))
    choice = choices[0] if choices else None
    message = _field(choice, "message")
    calls = _list(_field(message, "tool_calls"))
    return ModelResponse(
        content=_str(_field(message, "content")) or None,
        tool_calls=tuple(_parse_tool_call(call, position) for position, call in enumerate(calls)),
        usage=parse_usage(_field(raw, "usage")) or Usage(),
        finish_reason=_str(_field(choice, "finish_reason")),
    )


def _parse_tool_call(raw: Any, position: int) -> ToolCall:
    function = _field(raw, "function")
    return ToolCall(
        id=_str(_field(raw, "id")) or f"call_{position}",
        name=_str(_field(function, "name")) or "",
        arguments=_str(_field(function, "arguments")) or "{}",
    )


def parse_chunk(raw: Any) -> ModelDelta | None:
    """A :class:`ModelDelta` from a streamed chunk, or None when the chunk carries nothing."""
    choices = _list(_field(raw, "choices"))
    choice = choices[0] if choices else None
    delta = _field(choice, "delta")
    fragments = _list(_field(delta, "tool_calls"))
    parsed = ModelDelta(
        content=_str(_field(delta, "content")) or None,
        tool_calls=tuple(_parse_fragment(fragment, position) for position, fragment in enumerate(fragments)),
        usage=parse_usage(_field(raw, "usage")),
        finish_reason=_str(_field(choice, "finish_reason")),
    )
    return None if parsed == ModelDelta() else parsed


def _parse_fragment(raw: Any, position: int) -> ToolCallDelta:
    function = _field(raw, "function")
    index = _field(raw, "index")
    return ToolCallDelta(
        index=index if isinstance(index, int) else position,
        id=_str(_field(raw, "id")),
        name=_str(_field(function, "name")),
        arguments=_str(_field(function, "arguments")) or "",
    )


def parse_usage(raw: Any) -> Usage | None:
    """The token counts of a ``usage`` object, or None when there is none."""
    if raw is None:
        return None
    return Usage(
        input_tokens=_int(_field(raw, "prompt_tokens")),
        output_tokens=_int(_field(raw, "completion_tokens")),
    )


def _field(raw: Any, name: str) -> Any:
    """``raw[name]`` for a dict, ``raw.name`` for an object, None when absent."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        return cast(dict[str, Any], raw).get(name)
    return getattr(raw, name, None)


def _list(value: Any) -> list[Any]:
    return list(cast(Sequence[Any], value)) if isinstance(value, (list, tuple)) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
