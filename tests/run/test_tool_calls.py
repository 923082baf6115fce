"""Tool calls that never end, and tools that end the process: timeouts and exceptions beyond Exception."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.in_memory import InMemoryDb
from kern.exceptions import UsageError
from kern.run import RunStatus
from kern.testing import ScriptedModel, tool_call
from kern.tools import tool


@tool(timeout=0.2)
async def hang(session_state: dict[str, Any]) -> str:
    """Write, then never finish."""
    session_state["hung"] = True
    await anyio.sleep_forever()
    return "never"


@pytest.mark.anyio
async def test_an_async_tool_past_its_timeout_is_an_error_result_and_its_writes_are_undone() -> None:
    """The model sees the timeout as the call's result, the run goes on, the tool's writes are gone."""
    model = ScriptedModel(tool_call("hang"), "moved on")
    with anyio.fail_after(10):
        output = await Agent(model=model, tools=[hang]).arun("go", session_state={"n": 1})
    assert output.content == "moved on"
    execution = output.tools[0]
    assert execution.is_error
    assert "0.2s" in (execution.result or "")
    assert output.session_state == {"n": 1}


@pytest.mark.anyio
async def test_a_sync_tool_past_its_timeout_returns_on_time_and_never_touches_the_state() -> None:
    """A thread cannot be stopped: the run stops waiting, says so, and the thread's later writes are lost."""
    release, writing = threading.Event(), threading.Event()

    @tool(timeout=0.2)
    def blocked(session_state: dict[str, Any]) -> str:
        """Write, block until released, write again."""
        session_state["before"] = True
        writing.set()
        release.wait(10)
        session_state["after"] = True
        return "late"

    agent = Agent(model=ScriptedModel(tool_call("blocked"), "moved on"), tools=[blocked], db=InMemoryDb())
    try:
        with anyio.fail_after(5):
            output = await agent.arun("go", session_state={"n": 1})
    finally:
        release.set()
    assert writing.is_set()
    result = output.tools[0].result or ""
    assert "worker thread" in result
    assert output.session_state == {"n": 1}
    assert await agent.aget_session_state() == {"n": 1}


def test_a_tool_timeout_must_be_positive() -> None:
    """A zero, negative or infinite timeout is refused when the tool is made, naming the tool."""

    def slow() -> None:
        """A tool."""

    for bad in (0, -1, float("inf"), float("nan"), True):
        with pytest.raises(UsageError, match="slow"):
            tool(timeout=bad)(slow)


@pytest.mark.anyio
async def test_a_tool_raising_system_exit_ends_the_run_and_reaches_the_caller() -> None:
    """SystemExit is not a tool error: the run is recorded as error and the caller gets the SystemExit."""
    db = InMemoryDb()

    def leave() -> str:
        """Exit."""
        raise SystemExit(3)

    agent = Agent(model=ScriptedModel(tool_call("leave"), "never reached"), tools=[leave], db=db)
    with pytest.raises(SystemExit) as raised:
        await agent.arun("go", session_id="s")
    assert raised.value.code == 3
    (run,) = await db.store.get_runs("s")
    assert run.status is RunStatus.error
    assert "SystemExit" in (run.error or "")


def test_system_exit_in_a_tool_reaches_a_sync_caller() -> None:
    """The sync face carries the SystemExit to its caller too."""

    def leave() -> str:
        """Exit."""
        raise SystemExit(4)

    agent = Agent(model=ScriptedModel(tool_call("leave"), "never reached"), tools=[leave])
    with pytest.raises(SystemExit) as raised:
        agent.run("go")
    assert raised.value.code == 4


@pytest.mark.anyio
async def test_system_exit_in_a_streamed_run_reaches_the_consumer() -> None:
    """A streamed run whose tool raises SystemExit ends the iteration with that SystemExit."""

    def leave() -> str:
        """Exit."""
        raise SystemExit(5)

    agent = Agent(model=ScriptedModel(tool_call("leave"), "never reached"), tools=[leave])
    with pytest.raises(SystemExit):
        async for _ in agent.arun("go", stream=True):
            pass


@pytest.mark.anyio
async def test_a_run_past_its_timeout_is_recorded_cancelled_with_the_reason() -> None:
    """``arun(timeout=...)`` stops a run stuck in a tool: RunTimeoutError, and the row says why."""
    from kern.exceptions import RunTimeoutError

    db = InMemoryDb()

    async def stuck() -> str:
        """Never finish."""
        await anyio.sleep_forever()
        return "never"

    agent = Agent(model=ScriptedModel(tool_call("stuck"), "unused"), tools=[stuck], db=db)
    with anyio.fail_after(10), pytest.raises(RunTimeoutError, match=r"0\.2s"):
        await agent.arun("go", session_id="s", timeout=0.2)
    (run,) = await db.store.get_runs("s")
    assert run.status is RunStatus.cancelled
    assert "timeout" in (run.error or "")


@pytest.mark.anyio
async def test_a_run_timeout_returns_on_time_from_a_sync_tool_that_blocks() -> None:
    """A sync tool blocking in its thread does not hold the run past its timeout."""
    from kern.exceptions import RunTimeoutError

    release = threading.Event()

    def blocks(session_state: dict[str, Any]) -> str:
        """Block until released, then write."""
        release.wait(10)
        session_state["late"] = True
        return "late"

    agent = Agent(model=ScriptedModel(tool_call("blocks"), "unused"), tools=[blocks], db=InMemoryDb())
    try:
        with anyio.fail_after(5), pytest.raises(RunTimeoutError):
            await agent.arun("go", timeout=0.2)
    finally:
        release.set()
    assert await agent.aget_session_state() == {}


@pytest.mark.anyio
async def test_a_run_waiting_for_a_busy_session_times_out_too() -> None:
    """The run timeout counts the wait for the session: a held session cannot outlast it."""
    from kern.exceptions import RunTimeoutError

    db = InMemoryDb()
    started = anyio.Event()

    async def hold() -> str:
        """Hold the session."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    holder = Agent(model=ScriptedModel(tool_call("hold"), "unused"), tools=[hold], db=db, session_id="s")
    waiter = Agent(model=ScriptedModel("unused"), db=db, session_id="s")
    async with anyio.create_task_group() as tg:
        tg.start_soon(holder.arun, "hold it")
        await started.wait()
        with anyio.fail_after(10), pytest.raises(RunTimeoutError, match="waiting"):
            await waiter.arun("wait", timeout=0.2)
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_an_agent_tool_timeout_applies_to_tools_without_their_own() -> None:
    """``Agent(tool_timeout=...)`` bounds every tool call that does not set ``@tool(timeout=...)``."""

    async def slow() -> str:
        """Never finish."""
        await anyio.sleep_forever()
        return "never"

    model = ScriptedModel(tool_call("slow"), "moved on")
    with anyio.fail_after(10):
        output = await Agent(model=model, tools=[slow], tool_timeout=0.1).arun("go")
    assert output.tools[0].is_error
    assert "0.1s" in (output.tools[0].result or "")
    assert output.content == "moved on"
