"""Tool calls inside an Agent run: concurrency, limits, and every way a call can go wrong."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from kern.agent import Agent
from kern.testing import ScriptedModel, tool_call
from kern.tools import tool


@pytest.mark.anyio
async def test_tool_calls_of_one_turn_run_concurrently() -> None:
    """Two calls of one turn that each wait for the other both finish: they ran at the same time."""
    ping, pong = anyio.Event(), anyio.Event()

    async def first() -> str:
        """Set ping, wait for pong."""
        ping.set()
        await pong.wait()
        return "first"

    async def second() -> str:
        """Wait for ping, set pong."""
        await ping.wait()
        pong.set()
        return "second"

    model = ScriptedModel([tool_call("first"), tool_call("second")], "both")
    with anyio.fail_after(10):
        output = await Agent(model=model, tools=[first, second]).arun("go")
    assert [(t.name, t.result) for t in output.tools] == [("first", "first"), ("second", "second")]


@pytest.mark.anyio
async def test_unknown_tool_is_an_error_result_the_model_sees() -> None:
    """A call to a tool that does not exist gets an error naming the real tools; the run completes."""

    def known() -> str:
        """A tool."""
        return "x"

    model = ScriptedModel(tool_call("imaginary"), "recovered")
    output = await Agent(model=model, tools=[known]).arun("go")
    assert output.content == "recovered"
    result = model.requests[1].tool_results[0].content or ""
    assert "imaginary" in result
    assert "known" in result


@pytest.mark.anyio
async def test_malformed_arguments_are_an_error_result() -> None:
    """Arguments that are not JSON become an error result naming the tool; the tool does not run."""
    calls: list[str] = []

    def record(item: str) -> str:
        """Record an item."""
        calls.append(item)
        return "ok"

    model = ScriptedModel(tool_call("record", '{"item": "milk"'), "recovered")
    output = await Agent(model=model, tools=[record]).arun("go")
    assert calls == []
    assert output.tools[0].is_error
    assert "record" in (output.tools[0].result or "")
    assert output.content == "recovered"


@pytest.mark.anyio
async def test_invalid_arguments_are_an_error_result() -> None:
    """Arguments of the wrong type become an error result saying which field is wrong."""

    def count(n: int) -> str:
        """Count."""
        return str(n)

    model = ScriptedModel(tool_call("count", n="many"), "recovered")
    output = await Agent(model=model, tools=[count]).arun("go")
    assert output.tools[0].is_error
    assert "n" in (output.tools[0].result or "")


@pytest.mark.anyio
async def test_model_cannot_supply_injected_state() -> None:
    """A model passing session_state itself gets an error; the live state is untouched."""

    def peek(session_state: dict[str, Any]) -> str:
        """Look at the state."""
        return str(session_state)

    model = ScriptedModel(tool_call("peek", session_state={"evil": True}), "ok")
    output = await Agent(model=model, tools=[peek], session_state={"safe": 1}).arun("go")
    assert output.tools[0].is_error
    assert output.session_state == {"safe": 1}


@pytest.mark.anyio
async def test_tool_exception_is_an_error_result_and_the_run_goes_on() -> None:
    """A tool raising gives the model the error text; the run still completes."""

    def explode() -> str:
        """Fail."""
        raise RuntimeError("the oven is on fire")

    model = ScriptedModel(tool_call("explode"), "I could not do it")
    output = await Agent(model=model, tools=[explode]).arun("go")
    assert output.content == "I could not do it"
    assert "RuntimeError: the oven is on fire" in (model.requests[1].tool_results[0].content or "")


@pytest.mark.anyio
async def test_tool_call_limit_stops_running_tools() -> None:
    """Calls beyond tool_call_limit are refused; calling tools no longer offered ends the run."""
    calls: list[int] = []

    def work(n: int) -> str:
        """Work."""
        calls.append(n)
        return "done"

    model = ScriptedModel([tool_call("work", n=1), tool_call("work", n=2)], tool_call("work", n=3), "never")
    output = await Agent(model=model, tools=[work], tool_call_limit=1).arun("go")
    assert calls == [1]
    assert [t.is_error for t in output.tools] == [False, True, True]
    assert model.requests[1].tools == ()
    assert model.remaining == 1


@pytest.mark.anyio
async def test_tool_calling_sys_exit_ends_the_run_and_later_runs_go_on() -> None:
    """A tool that calls sys.exit ends its run with the SystemExit (not a tool error); the session is
    released, so later runs go on."""
    import sys

    def quit_now() -> str:
        """Exit."""
        sys.exit(2)

    agent = Agent(model=ScriptedModel(tool_call("quit_now"), "again"), tools=[quit_now], on_busy="reject")
    with pytest.raises(SystemExit):
        await agent.arun("go")
    assert agent.run("and sync").content == "again"


@pytest.mark.anyio
async def test_tool_updating_its_own_session_is_refused_at_once() -> None:
    """A tool calling update_session_state on the session its run holds gets an error, not a deadlock."""

    async def nested(agent: Agent) -> str:
        """Update the state through the agent."""
        await agent.aupdate_session_state({"x": 1})
        return "updated"

    model = ScriptedModel(tool_call("nested"), "ok")
    with anyio.fail_after(10):
        output = await Agent(model=model, tools=[nested], busy_timeout=60).arun("go")
    assert output.tools[0].is_error
    assert "run_context.session_state" in (output.tools[0].result or "")


@pytest.mark.anyio
async def test_stop_after_tool_call_ends_the_run_with_the_result() -> None:
    """A tool marked stop_after_tool_call ends the run; its result is the content."""

    @tool(stop_after_tool_call=True, show_result=True)
    def final_answer(text: str) -> str:
        """Give the final answer."""
        return text.upper()

    model = ScriptedModel(tool_call("final_answer", text="done"))
    output = await Agent(model=model, tools=[final_answer]).arun("go")
    assert output.content == "DONE"
    assert len(model.requests) == 1


@pytest.mark.anyio
async def test_unconfirmed_tool_does_not_run() -> None:
    """A requires_confirmation tool runs only when confirm_tool_call approves it."""
    ran: list[str] = []

    @tool(requires_confirmation=True)
    def delete_everything(target: str) -> str:
        """Delete."""
        ran.append(target)
        return "deleted"

    model = ScriptedModel(
        tool_call("delete_everything", target="a"), "ok", tool_call("delete_everything", target="b"), "ok"
    )
    await Agent(model=model, tools=[delete_everything]).arun("go")
    approving = Agent(
        model=model,
        tools=[delete_everything],
        confirm_tool_call=lambda call: call.name == "delete_everything",
    )
    await approving.arun("go")
    assert ran == ["b"]


@pytest.mark.anyio
async def test_parallel_state_tools_keep_every_write() -> None:
    """Fifty concurrent calls appending to the state in one turn all land."""

    async def append(session_state: dict[str, Any], n: int) -> str:
        """Append n."""
        items = session_state.setdefault("items", [])
        await anyio.lowlevel.checkpoint()
        session_state["items"] = [*items, n]
        return "ok"

    model = ScriptedModel([tool_call("append", n=n) for n in range(50)], "ok")
    output = await Agent(model=model, tools=[append]).arun("go")
    assert sorted(output.session_state["items"]) == list(range(50))
