"""The test models Kern ships: scripts, functions, and the model that tries every tool."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from kern.agent import Agent
from kern.exceptions import ModelServerError
from kern.models.base import ResponseAssembler
from kern.models.message import Message
from kern.testing import (
    FunctionModel,
    ModelRequest,
    Reply,
    ScriptedModel,
    TestModel,
    sample_arguments,
    tool_call,
)
from kern.tools import Function

HI = [Message(role="user", content="hi")]


@pytest.mark.anyio
async def test_scripted_replies_come_in_order_and_requests_are_recorded() -> None:
    """Each call takes the next reply; every request is kept."""
    model = ScriptedModel("one", Reply(content="two"))
    assert (await model.response(HI)).content == "one"
    assert (await model.response(HI)).content == "two"
    assert [r.last_user_message for r in model.requests] == ["hi", "hi"]
    assert model.remaining == 0


@pytest.mark.anyio
async def test_scripted_error_is_raised() -> None:
    """An exception in the script is raised by that call."""
    model = ScriptedModel(ModelServerError("down"), "after")
    with pytest.raises(ModelServerError, match="down"):
        await model.response(HI)
    assert (await model.response(HI)).content == "after"


@pytest.mark.anyio
async def test_streamed_reply_reassembles_to_the_whole_reply() -> None:
    """Streaming fragments text and interleaved tool calls that reassemble to the same answer."""
    calls = (tool_call("a", x="long argument text"), tool_call("b", y=[1, 2, 3]))
    model = ScriptedModel(Reply(content="some words here", tool_calls=calls))
    assembler = ResponseAssembler()
    deltas = [delta async for delta in model.stream(HI)]
    for delta in deltas:
        assembler.add(delta)
    response = assembler.build()
    assert (response.content, response.tool_calls) == ("some words here", calls)
    fragments = [f for d in deltas for f in d.tool_calls]
    assert [f.index for f in fragments[:4]] == [0, 1, 0, 1]
    assert all(f.id is None and f.name is None for f in fragments[2:])


@pytest.mark.anyio
async def test_function_model_answers_from_the_request() -> None:
    """FunctionModel calls the function with the request, sync or async."""

    async def echo(request: ModelRequest) -> str:
        return f"you said {request.last_user_message}"

    assert (await FunctionModel(echo).response(HI)).content == "you said hi"


class Color(Enum):
    red = "red"


class Point(BaseModel):
    x: int
    y: int


def every_kind(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    tags: list[str],
    mode: Literal["a", "b"],
    color: Color,
    at: Point,
) -> str:
    """A tool with one parameter of each kind."""
    return "ok"


def test_sample_arguments_validate_against_the_tool() -> None:
    """The sample for a schema is accepted by the tool's own validation."""
    function = Function.from_callable(every_kind)
    arguments = sample_arguments(function.parameters)
    assert set(arguments) == {"text", "count", "ratio", "flag", "tags", "mode", "color", "at"}
    assert arguments["at"] == {"x": 0, "y": 0}


def test_test_model_calls_every_tool_then_answers() -> None:
    """TestModel calls each offered tool once with valid arguments, then answers with the results."""
    calls: list[str] = []

    def first(n: int) -> str:
        """First."""
        calls.append(f"first {n}")
        return "one"

    def second(point: Point) -> str:
        """Second."""
        calls.append(f"second {point.x}")
        return "two"

    output = Agent(model=TestModel(), tools=[first, second, every_kind]).run("go")
    assert sorted(calls) == ["first 0", "second 0"]
    assert [t.is_error for t in output.tools] == [False, False, False]
    assert output.content == '{"first": "one", "second": "two", "every_kind": "ok"}'


def test_sample_arguments_respect_formats_and_bounds() -> None:
    """Dates, UUIDs, minimum lengths and exclusive minimums get values the tool accepts."""

    def booking(
        day: dt.date,
        at: dt.datetime,
        ref: uuid.UUID,
        code: Annotated[str, Field(min_length=10)],
        guests: Annotated[int, Field(gt=2)],
        share: Annotated[float, Field(ge=0.5)],
    ) -> str:
        """Book."""
        return "ok"

    function = Function.from_callable(booking)
    output = Agent(model=TestModel(), tools=[function]).run("book")
    assert [t.is_error for t in output.tools] == [False]
