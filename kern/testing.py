"""Models for tests: scripted answers, answers computed by a function, and a model that tries every tool.

They ship with Kern so that users test their agents the way Kern tests itself, without a provider:

* :class:`ScriptedModel` plays a queue of replies (text, tool calls, errors) and records every request;
  it complains, naming the request, when the script runs out.
* :class:`FunctionModel` answers with whatever a function of the request returns.
* :class:`TestModel` calls every tool it is offered once, with arguments valid for the tool's schema,
  then answers with their results.

All three stream too: text in word-sized pieces, tool calls in small interleaved fragments with the id
and name only on the first, the way providers do.

Each takes ``record``: True (the default) keeps every request in ``requests``, its messages deep-copied
as they were sent; False keeps none and copies nothing (for benchmarks and long soaks: the function or
script still sees each request, and ``calls`` still counts them).
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from kern._private.validate import check_instance, check_int, given
from kern.exceptions import KernError, UsageError
from kern.models.base import Model, ModelDelta, ModelResponse, ToolCallDelta, ToolDefinition, Usage
from kern.models.message import Message, ToolCall

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: text, tool calls, or both."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None


ScriptItem = str | ToolCall | Sequence[ToolCall] | Reply | BaseException
"""A reply as scripts write it: text, one tool call, several at once, a Reply, or an error to raise."""


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, /, **kwargs: Any) -> ToolCall:
    """A tool call for a script: ``tool_call("add_item", item="milk")``.

    ``arguments`` given as a string is sent exactly as written (to test malformed JSON).
    """
    text = arguments if isinstance(arguments, str) else json.dumps({**(arguments or {}), **kwargs})
    return ToolCall(id=f"call_{next(_ids)}", name=name, arguments=text)


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What a run sent to a test model."""

    messages: tuple[Message, ...]
    tools: tuple[ToolDefinition, ...] = ()
    output_schema: type[BaseModel] | None = None
    stream: bool = False

    @property
    def system(self) -> str | None:
        """The system message's text, if there was one."""
        return next((m.content for m in self.messages if m.role == "system"), None)

    @property
    def last_user_message(self) -> str | None:
        """The text of the last user message."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), None)

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered."""
        return [t.name for t in self.tools]

    @property
    def tool_results(self) -> list[Message]:
        """The tool results since the last user message."""
        results: list[Message] = []
        for message in reversed(self.messages):
            if message.role == "user":
                break
            if message.role == "tool":
                results.append(message)
        return results[::-1]


class ScriptExhaustedError(KernError, AssertionError):
    """A ScriptedModel was asked for more replies than it was given."""


class _TestModelBase(Model):
    """Recording, streaming and usage shared by the test models; subclasses say what to answer."""

    retry_delay = 0.0

    def __init__(self, id: str, retries: int, record: bool) -> None:
        where = type(self).__name__
        if not isinstance(id, str) or not id:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"{where}: id must be a non-empty str, got {given(id)}")
        check_int(retries, "retries", minimum=0, where=where)
        if not isinstance(record, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"{where}: record must be True or False, got {given(record)}")
        self.id = id
        self.retries = retries
        self.record = record
        self.requests: list[ModelRequest] = []
        """Every request, in order (empty with ``record=False``)."""
        self.calls = 0
        """How many requests the model was sent (counted with or without ``record``)."""
        self._lock = threading.Lock()

    async def response(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> ModelResponse:
        """Answer in one piece."""
        request = self._record(messages, tools, output_schema, stream=False)
        return _response(await self._answer(request), request)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Answer in fragments."""
        request = self._record(messages, tools, output_schema, stream=True)
        for delta in _fragments(_response(await self._answer(request), request)):
            yield delta

    async def _answer(self, request: ModelRequest) -> Reply:
        raise NotImplementedError

    def _record(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        output_schema: type[BaseModel] | None,
        *,
        stream: bool,
    ) -> ModelRequest:
        if not self.record:  # the live messages, for this call only: nothing is kept or copied
            with self._lock:
                self.calls += 1
            return ModelRequest(tuple(messages), tuple(tools), output_schema, stream)
        request = ModelRequest(
            tuple(m.model_copy(deep=True) for m in messages), tuple(tools), output_schema, stream
        )
        with self._lock:
            self.calls += 1
            self.requests.append(request)
        return request


class ScriptedModel(_TestModelBase):
    """Plays its replies in order, one per model call, and records every request in ``requests``."""

    def __init__(
        self, *replies: ScriptItem, id: str = "scripted", retries: int = 0, record: bool = True
    ) -> None:
        super().__init__(id, retries, record)
        for number, reply in enumerate(replies, 1):
            _check_item(reply, f"ScriptedModel: reply #{number}")
        self._replies: deque[ScriptItem] = deque(replies)

    def add(self, *replies: ScriptItem) -> None:
        """Append replies to the script."""
        with self._lock:
            for number, reply in enumerate(replies, len(self._replies) + 1):
                _check_item(reply, f"ScriptedModel.add: reply #{number}")
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        """How many replies are left."""
        return len(self._replies)

    async def _answer(self, request: ModelRequest) -> Reply:
        with self._lock:
            if not self._replies:
                raise ScriptExhaustedError(
                    f"ScriptedModel {self.id!r} has no reply left for request #{self.calls} "
                    f"(last user message: {request.last_user_message!r})"
                )
            item = self._replies.popleft()
        if isinstance(item, BaseException):
            raise item
        return _as_reply(item)


class FunctionModel(_TestModelBase):
    """Answers with ``fn(request)``: text, a tool call, several, or a Reply; ``fn`` may be async."""

    def __init__(
        self,
        fn: Callable[[ModelRequest], ScriptItem | Awaitable[ScriptItem]],
        *,
        id: str = "function",
        retries: int = 0,
        record: bool = True,
    ) -> None:
        super().__init__(id, retries, record)
        if not callable(fn):
            raise UsageError(f"FunctionModel takes a function of the request, got {given(fn)}")
        self._fn = fn

    async def _answer(self, request: ModelRequest) -> Reply:
        answer = self._fn(request)
        item = await answer if inspect.isawaitable(answer) else answer
        _check_item(item, f"FunctionModel {self.id!r}: what the function returned", scripted=False)
        if isinstance(item, BaseException):
            raise item
        return _as_reply(item)


class TestModel(_TestModelBase):
    """Calls every offered tool once with schema-valid arguments, then answers with what they returned."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, *, id: str = "test", retries: int = 0, answer: str | None = None, record: bool = True
    ) -> None:
        super().__init__(id, retries, record)
        check_instance(answer, str, "answer", "a str or None", where="TestModel")
        self._final = answer

    async def _answer(self, request: ModelRequest) -> Reply:
        if request.tools and not request.tool_results:
            calls = (tool_call(t.name, sample_arguments(t.parameters)) for t in request.tools)
            return Reply(tool_calls=tuple(calls))
        if self._final is not None:
            return Reply(content=self._final)
        results = {m.name or "": m.content for m in request.tool_results}
        return Reply(content=json.dumps(results) if results else "ok")


def sample_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments valid for a tool's JSON schema: every required property with a sample value."""
    value = _sample(schema, schema.get("$defs", {}))
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _sample(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> object:
    if "$ref" in schema:
        return _sample(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return _sample(options[0], defs)
    kind = schema.get("type", "object")
    if kind == "object":
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {name: _sample(properties[name], defs) for name in schema.get("required", [])}
    if kind == "array":
        return [_sample(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 1))]
    if kind == "string":
        text = _FORMATS.get(schema.get("format", ""), "sample")
        return text.ljust(schema.get("minLength", 0), "x")
    if kind in ("integer", "number"):
        low = max(schema.get("minimum", 0), schema.get("exclusiveMinimum", -1) + 1)
        return low if kind == "integer" else float(low)
    return {"boolean": False, "null": None}.get(kind, "sample")


_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00",
    "duration": "P1D",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "ipv4": "127.0.0.1",
}


_REPLY_KINDS = (
    "a reply is a str, a ToolCall (tool_call(...)), a list of the ToolCalls of one turn, a Reply, "
    "or an exception instance to raise"
)


def _check_item(item: object, what: str, *, scripted: bool = True) -> None:
    """UsageError, saying what a script takes, for anything that is not a reply."""
    if isinstance(item, str | ToolCall | Reply | BaseException):
        return
    if isinstance(item, Sequence):
        calls = cast("Sequence[object]", item)
        if all(isinstance(call, ToolCall) for call in calls):
            return
        odd = next(call for call in calls if not isinstance(call, ToolCall))
        hint = (
            "Pass replies as separate arguments, ScriptedModel('hi', tool_call('add', x=1), 'done'), or "
            "unpack a list of them: ScriptedModel(*replies)"
            if scripted
            else "return one reply per call"
        )
        raise UsageError(
            f"{what} is a {type(calls).__name__} holding {given(odd)}: a list in a script is the tool calls "
            f"of one reply. {hint}"
        )
    if isinstance(item, type) and issubclass(item, BaseException):
        raise UsageError(f"{what} is the class {item.__name__}; pass an instance: {item.__name__}('...')")
    raise UsageError(f"{what} is {given(cast(object, item))}; {_REPLY_KINDS}")


def _as_reply(item: str | ToolCall | Sequence[ToolCall] | Reply) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, str):
        return Reply(content=item)
    if isinstance(item, ToolCall):
        return Reply(tool_calls=(item,))
    return Reply(tool_calls=tuple(item))


def _response(reply: Reply, request: ModelRequest) -> ModelResponse:
    usage = reply.usage or Usage(
        input_tokens=max(1, sum(len(m.content or "") for m in request.messages) // 4),
        output_tokens=max(
            1, (len(reply.content or "") + sum(len(c.arguments) for c in reply.tool_calls)) // 4
        ),
    )
    reason = "tool_calls" if reply.tool_calls else "stop"
    return ModelResponse(
        content=reply.content, tool_calls=reply.tool_calls, usage=usage, finish_reason=reason
    )


def _fragments(response: ModelResponse) -> Iterable[ModelDelta]:
    text = response.content or ""
    words = text.split(" ")
    for i, word in enumerate(words if text else []):
        yield ModelDelta(content=word if i == len(words) - 1 else word + " ")
    pieces = [_call_fragments(index, call) for index, call in enumerate(response.tool_calls)]
    for row in itertools.zip_longest(*pieces):
        for fragment in row:
            if fragment is not None:
                yield ModelDelta(tool_calls=(fragment,))
    yield ModelDelta(usage=response.usage, finish_reason=response.finish_reason)


def _call_fragments(index: int, call: ToolCall) -> list[ToolCallDelta]:
    args = call.arguments
    chunks = [args[i : i + 4] for i in range(0, len(args), 4)] or [""]
    first = ToolCallDelta(index=index, id=call.id, name=call.name, arguments=chunks[0])
    return [first, *(ToolCallDelta(index=index, arguments=chunk) for chunk in chunks[1:])]


__all__ = [
    "FunctionModel",
    "ModelRequest",
    "Reply",
    "ScriptExhaustedError",
    "ScriptItem",
    "ScriptedModel",
    "TestModel",
    "sample_arguments",
    "tool_call",
]
