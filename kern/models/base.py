"""The Model seam: the two calls Kern's run loop makes on any model provider.

A model takes the conversation so far and the tools on offer and answers with text, tool calls or both,
either whole (:meth:`Model.response`) or as a stream of deltas (:meth:`Model.stream`). Streamed tool
calls arrive in fragments keyed by ``index``: the id and name only on a call's first fragment, the JSON
arguments spread over many; :class:`ResponseAssembler` puts them back together, for every model alike.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from kern.models.message import Message, ToolCall


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as the model sees it: a name, what it does, and the JSON schema of its arguments.

    A tool's definition is built once and shared by every run: its ``parameters`` are read-only (a
    change raises TypeError); a copy (``copy.deepcopy``, :meth:`to_openai`) is plain and mutable.
    """

    name: str
    description: str
    parameters: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI chat-completions ``tools`` entry, with a copy of the schema the caller may change
        (provider SDKs such as litellm rewrite schemas in place)."""
        parameters = copy.deepcopy(self.parameters)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one or more model calls consumed."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """One complete answer of the model."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; ``id`` and ``name`` come only on a call's first fragment."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """One streamed piece of an answer: text, tool-call fragments, and (usually last) the usage."""

    content: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None


class Model(ABC):
    """A model provider. Implementations are immutable and safe to share between concurrent runs.

    Kern calls a model through :func:`kern.models.call.call_model`, which applies the three settings
    below the same way to every model. ``retries`` is how many times a call that failed with a
    retryable :class:`~kern.exceptions.ModelError` (rate limit, server error, connection failure) is
    tried again; before retry ``n`` (from 0) it waits a random time up to ``retry_delay * 2**n``
    (full jitter), or longer when the provider asked for it (``retry_after``). ``timeout`` (seconds,
    None: no limit) bounds the whole call: every attempt, the waits between them, and a streamed
    answer from its first byte to its last; then it raises
    :class:`~kern.exceptions.ModelTimeoutError`.
    """

    id: str
    retries: int = 2
    retry_delay: float = 0.5
    timeout: float | None = None

    def describe(self) -> str:
        """How errors name this model: ``model 'id'`` (a served model adds where it is served)."""
        return f"model {self.id!r}"

    @property
    def max_tokens(self) -> int | None:
        """The output token limit the model was configured with, when it has one (for error messages)."""
        return None

    @abstractmethod
    async def response(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> ModelResponse:
        """Answer the conversation in one piece."""

    @abstractmethod
    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Answer the conversation as a stream of deltas."""


class ResponseAssembler:
    """Builds a :class:`ModelResponse` from streamed deltas, however the tool calls were fragmented."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: list[_PartialCall] = []
        self._open: dict[int, _PartialCall] = {}  # the call each index currently continues
        self._usage = Usage()
        self._finish_reason: str | None = None

    def add(self, delta: ModelDelta) -> None:
        """Take in one delta."""
        if delta.content:
            self._text.append(delta.content)
        for fragment in delta.tool_calls:
            self._call_for(fragment).add(fragment)
        if delta.usage is not None:
            self._usage = delta.usage
        if delta.finish_reason is not None:
            self._finish_reason = delta.finish_reason

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def build(self) -> ModelResponse:
        """The complete response, tool calls in the order of their index, then of arrival."""
        ordered = sorted(enumerate(self._calls), key=lambda item: (item[1].index, item[0]))
        calls = tuple(call.build() for _, call in ordered)
        return ModelResponse(
            content="".join(self._text) or None,
            tool_calls=calls,
            usage=self._usage,
            finish_reason=self._finish_reason,
        )

    def _call_for(self, fragment: ToolCallDelta) -> _PartialCall:
        """The call a fragment continues; a new id at a used index starts a new call (some servers
        stream parallel calls all at index 0)."""
        current = self._open.get(fragment.index)
        if current is None or (fragment.id is not None and current.id not in (None, fragment.id)):
            current = _PartialCall(index=fragment.index)
            self._calls.append(current)
            self._open[fragment.index] = current
        return current


@dataclass(slots=True)
class _PartialCall:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list[str])

    def add(self, fragment: ToolCallDelta) -> None:
        self.id = self.id or fragment.id
        self.name = self.name or fragment.name
        self.arguments.append(fragment.arguments)

    def build(self) -> ToolCall:
        return ToolCall(
            id=self.id or f"call_{self.index}",
            name=self.name or "",
            arguments="".join(self.arguments) or "{}",
        )
