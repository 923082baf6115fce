"""The chat message exchanged with models and stored, append-only, in the ``messages`` table.

A message crosses two boundaries (the model provider and the database), so it is a pydantic model:
what comes back from storage is validated, and unknown fields written by a newer Kern are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One tool call requested by the model; ``arguments`` is the raw JSON text the model produced."""

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
