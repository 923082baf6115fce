"""The test models Kern ships: scripts, functions, and the model that tries every tool."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from kern.agent import Agent
from kern.exceptions import ModelServerError, UsageError
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


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        ((["hi", "there"],), r"reply #1 is a list holding str 'hi'.*ScriptedModel\(\*replies\)"),
        (("ok", [tool_call("a"), "x"]), r"reply #2 is a list holding str 'x'"),
        ((ValueError,), r"reply #1 is the class ValueError; pass an instance"),
        ((42,), r"reply #1 is int 42; a reply is a str, a ToolCall"),
    ],
    ids=["list of texts", "text among tool calls", "exception class", "int"],
)
def test_scripted_model_refuses_what_is_not_a_reply_at_construction(
    replies: tuple[Any, ...], message: str
) -> None:
    """ScriptedModel(["hi"]) failed at the first call with 'str' object has no attribute 'arguments'; now
    the constructor says a list is one turn's tool calls and shows the right call."""
    with pytest.raises(UsageError, match=rf"^ScriptedModel: {message}"):
        ScriptedModel(*replies)


def test_scripted_model_add_refuses_what_is_not_a_reply() -> None:
    """add() checks its replies as the constructor does, numbering them after those already queued."""
    model = ScriptedModel("one")
    with pytest.raises(UsageError, match=r"^ScriptedModel.add: reply #2 is a list holding str 'two'"):
        model.add(["two"])  # pyright: ignore[reportArgumentType]
    assert model.remaining == 1


@pytest.mark.anyio
async def test_function_model_says_when_its_function_returns_no_reply() -> None:
    """A FunctionModel whose function returns something that is not a reply raises UsageError naming it."""
    model = FunctionModel(lambda request: ["hi"])  # pyright: ignore[reportArgumentType]
    with pytest.raises(UsageError, match=r"^FunctionModel 'function': what the function returned is a list"):
        await model.response(HI)


# --- record=False: no requests kept, nothing copied (what the benchmarks use) -----------------------------


@pytest.mark.anyio
async def test_function_model_with_record_false_keeps_no_requests_and_counts_calls() -> None:
    """record=False leaves ``requests`` empty while ``calls`` counts every request."""
    model = FunctionModel(lambda request: "ok", record=False)
    await model.response(HI)
    await model.response(HI)
    assert model.requests == []
    assert model.calls == 2


@pytest.mark.anyio
async def test_function_model_with_record_false_passes_the_live_messages() -> None:
    """Without recording, the function sees the very messages sent: none is deep-copied."""
    seen: list[ModelRequest] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request)
        return "ok"

    await FunctionModel(answer, record=False).response(HI)
    assert seen[0].messages[0] is HI[0]


@pytest.mark.anyio
async def test_recorded_requests_are_deep_copies() -> None:
    """By default a request is recorded as sent: a later change to a message does not reach it."""
    message = Message(role="user", content="hi")
    model = FunctionModel(lambda request: "ok")
    await model.response([message])
    message.content = "changed"
    assert model.requests[0].messages[0].content == "hi"
    assert model.calls == 1


@pytest.mark.anyio
async def test_an_unrecorded_script_that_runs_out_names_the_request() -> None:
    """A ScriptedModel with record=False still numbers the request it has no reply for."""
    model = ScriptedModel("one", record=False)
    await model.response(HI)
    with pytest.raises(AssertionError, match="no reply left for request #2"):
        await model.response(HI)


def test_an_unrecorded_agent_run_works_with_every_test_model() -> None:
    """ScriptedModel, FunctionModel and TestModel take record=False and drive a run."""
    for model in (
        ScriptedModel("done", record=False),
        FunctionModel(lambda request: "done", record=False),
        TestModel(answer="done", record=False),
    ):
        assert Agent(model=model).run("go").content == "done"
        assert model.requests == []
        assert model.calls == 1


def test_record_must_be_a_bool() -> None:
    """record="no" is refused with a UsageError naming the model class."""
    with pytest.raises(UsageError, match="FunctionModel: record must be True or False"):
        FunctionModel(lambda request: "ok", record="no")  # pyright: ignore[reportArgumentType]
