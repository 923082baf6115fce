"""Inline tools (``@tool(inline=True)``): a sync tool called on the event loop, not in a worker thread;
and the tool schema the model is shown, built once and shared read-only."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest

from kern._private.calls import call_user
from kern.agent import Agent
from kern.exceptions import UsageError
from kern.session.context import RunContext
from kern.testing import ScriptedModel, tool_call
from kern.tools import Function, Injected, tool
from kern.tools import schema as tool_schema

pytestmark = pytest.mark.anyio


def where() -> int:
    """Say which thread ran the call."""
    return threading.get_ident()


def search(query: str, tags: list[str] | None = None) -> str:
    """Search.

    Args:
        query: What to look for.
        tags: Tags to filter by.
    """
    return query


def no_injections() -> Injected:
    context = RunContext(run_id="r", session_id="s", user_id=None, session_state={}, dependencies={})
    return Injected(run_context=context)


# --- where a call runs ----------------------------------------------------------------------------------


async def test_an_inline_tool_runs_on_the_event_loop_thread() -> None:
    """A sync tool made with inline=True is called in the event loop's own thread."""
    function = Function.from_callable(where, inline=True)
    assert await function.execute("{}", no_injections()) == threading.get_ident()


async def test_a_default_sync_tool_runs_in_a_worker_thread() -> None:
    """A sync tool without inline runs in a worker thread, not the event loop's."""
    function = Function.from_callable(where)
    assert await function.execute("{}", no_injections()) != threading.get_ident()


async def test_the_tool_decorator_takes_inline() -> None:
    """@tool(inline=True) makes an inline Function; the default is not inline."""
    assert tool(inline=True)(where).inline
    assert not tool(where).inline
    assert not Function.from_callable(where).inline


async def test_an_inline_tool_in_an_agent_run_runs_on_the_loop() -> None:
    """In a run, an inline tool's result is the loop thread's id: no worker thread was used."""
    agent = Agent(model=ScriptedModel(tool_call("where"), "done"), tools=[tool(inline=True)(where)])
    output = await agent.arun("go")
    assert output.tools[0].result == str(threading.get_ident())


def test_inline_must_be_a_bool() -> None:
    """inline="yes" is refused with a UsageError naming the tool."""
    with pytest.raises(UsageError, match="tool 'where': inline must be True or False"):
        Function.from_callable(where, inline="yes")  # pyright: ignore[reportArgumentType]


async def test_a_tool_argument_named_inline_reaches_the_tool() -> None:
    """A tool's own parameter called ``inline`` gets the model's value (it is not the runtime's flag)."""

    def render(text: str, inline: bool) -> str:
        """Render text."""
        return f"{text}:{inline}:{threading.get_ident() == loop_thread}"

    loop_thread = threading.get_ident()
    function = Function.from_callable(render)
    assert await function.execute('{"text": "a", "inline": true}', no_injections()) == "a:True:False"


async def test_call_user_inline_calls_a_sync_function_on_the_loop() -> None:
    """call_user(fn, inline=True) calls a sync fn in the calling (event loop) thread."""
    assert await call_user(where, inline=True) == threading.get_ident()
    assert await call_user(where) != threading.get_ident()


# --- inline calls, state and timeouts -------------------------------------------------------------------


async def test_an_inline_state_tool_under_a_timeout_works_on_the_live_state() -> None:
    """Under a deadline, inline calls get the run's live state dict (no copy), unlike threaded ones."""
    seen: list[dict[str, Any]] = []

    def note(session_state: dict[str, Any]) -> str:
        """Note the state."""
        seen.append(session_state)
        return "ok"

    model = ScriptedModel([tool_call("note"), tool_call("note")], "done")
    agent = Agent(model=model, tools=[tool(inline=True, timeout=30)(note)])
    await agent.arun("go")
    assert len(seen) == 2
    assert seen[0] is seen[1]


async def test_a_threaded_state_tool_under_a_timeout_works_on_a_copy() -> None:
    """The contrast: threaded calls under a deadline each get their own copy of the state."""
    seen: list[dict[str, Any]] = []

    def note(session_state: dict[str, Any]) -> str:
        """Note the state."""
        seen.append(session_state)
        return "ok"

    model = ScriptedModel([tool_call("note"), tool_call("note")], "done")
    await Agent(model=model, tools=[tool(timeout=30)(note)]).arun("go")
    assert seen[0] is not seen[1]


async def test_an_inline_tool_past_its_timeout_is_an_error_result_and_its_writes_are_undone() -> None:
    """An inline call cannot be interrupted: returning after its timeout, it becomes the timeout error."""

    def slow(session_state: dict[str, Any]) -> str:
        """Take longer than allowed."""
        session_state["written"] = True
        time.sleep(0.05)  # always longer than the 1 ms timeout
        return "late"

    model = ScriptedModel(tool_call("slow"), "done")
    agent = Agent(model=model, tools=[tool(inline=True, timeout=0.001)(slow)])
    output = await agent.arun("go", session_state={"kept": 1})
    assert output.content == "done"
    assert output.tools[0].is_error
    assert "ran inline on the event loop" in (output.tools[0].result or "")
    assert output.session_state == {"kept": 1}


async def test_an_inline_tool_without_state_past_its_timeout_does_not_crash_the_run() -> None:
    """A stateless inline tool that returns late is an error result; the run completes."""

    def slow() -> str:
        """Take longer than allowed."""
        time.sleep(0.05)
        return "late"

    agent = Agent(
        model=ScriptedModel(tool_call("slow"), "done"), tools=[tool(inline=True, timeout=0.001)(slow)]
    )
    output = await agent.arun("go")
    assert output.content == "done"
    assert output.tools[0].is_error


# --- the schema the model is shown ----------------------------------------------------------------------


def test_definition_is_built_once() -> None:
    """Function.definition is the same object on every access, not rebuilt per model call."""
    function = Function.from_callable(search)
    assert function.definition is function.definition


def test_definition_does_not_deep_copy_per_access(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading Function.definition makes no copy.deepcopy call."""
    function = Function.from_callable(search)
    calls: list[object] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        calls.append(value)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    for _ in range(3):
        assert function.definition.name == "search"
    assert calls == []


def test_definition_schema_equals_parameters() -> None:
    """The shared schema holds what ``parameters`` holds, comparing equal to plain dicts and lists."""
    function = Function.from_callable(search)
    assert function.definition.parameters == function.parameters
    assert function.definition.parameters["required"] == ["query"]


def test_a_nested_list_of_the_schema_is_read_only() -> None:
    """Appending to the schema's ``required`` raises TypeError; the next access is unchanged."""
    function = Function.from_callable(search)
    with pytest.raises(TypeError, match="read-only"):
        function.definition.parameters["required"].append("tags")
    with pytest.raises(TypeError, match="read-only"):
        function.definition.parameters["properties"]["query"]["type"] = "integer"
    assert function.definition.parameters["required"] == ["query"]
    assert function.definition.parameters["properties"]["query"]["type"] == "string"


def test_a_deep_copy_of_the_schema_is_plain_and_mutable() -> None:
    """copy.deepcopy of the shared schema is a plain dict a caller may change without touching the next."""
    function = Function.from_callable(search)
    mine = copy.deepcopy(function.definition.parameters)
    assert type(mine) is dict
    assert type(mine["required"]) is list
    mine["properties"].clear()
    mine["required"].append("tags")
    assert "query" in function.definition.parameters["properties"]
    assert function.definition.parameters["required"] == ["query"]


def test_to_openai_gives_the_provider_its_own_copy() -> None:
    """A provider rewriting the ``to_openai()`` schema in place (litellm may) leaves the tool's intact."""
    function = Function.from_callable(search)
    entry = function.definition.to_openai()
    parameters = entry["function"]["parameters"]
    parameters["strict"] = True
    parameters["properties"]["query"]["type"] = "integer"
    assert "strict" not in function.definition.parameters
    assert (
        function.definition.to_openai()["function"]["parameters"]["properties"]["query"]["type"] == "string"
    )


def test_the_read_only_schema_serializes_as_json() -> None:
    """The shared schema is JSON as it is (a dict subclass), with no copy to make first."""
    function = Function.from_callable(search)
    schema = function.definition.parameters
    assert isinstance(schema, tool_schema.ReadOnlyDict)
    assert json.loads(json.dumps(schema)) == function.parameters


def test_a_renamed_tool_has_its_own_definition() -> None:
    """A Toolkit-style rename (dataclasses.replace) builds the new name's definition."""
    import dataclasses

    renamed = dataclasses.replace(Function.from_callable(search), name="find")
    assert renamed.definition.name == "find"
