"""The chat message exchanged with models and stored, append-only, in the ``messages`` table.

A message crosses two boundaries (the model provider and the database), so it is a pydantic model:
what comes back from storage is validated, and unknown fields written by a newer Kern are ignored.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One tool call requested by the model; ``arguments`` is the raw JSON text the model produced.

    In an assistant message of the conversation, ``arguments`` is always a JSON object (what the tool
    was given): :func:`kern.models.answer.answer_message` puts ``{}`` in place of arguments that are not
    one, since servers that render them into a chat template (llama.cpp, vLLM) refuse the next request.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    arguments: str = "{}"


class Message(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list[ToolCall])
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])

    def to_record(self) -> dict[str, Any]:
        """The JSON form stored in the ``messages`` table (defaults omitted)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def object_arguments(arguments: str) -> str | None:
    """``arguments`` if it is the JSON text of an object (empty text counts as ``{}``), else None."""
    if not arguments.strip():
        return "{}"
    try:
        parsed: object = json.loads(arguments)
    except (ValueError, RecursionError):
        return None
    return arguments if isinstance(parsed, dict) else None
