"""The state-call rule: a tool, hook or workflow function that takes the state is all or nothing."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.in_memory import InMemoryDb
from kern.exceptions import UsageError
from kern.run import RunContext
from kern.testing import ScriptedModel, tool_call
from kern.workflow import Step, Workflow


def half_done(session_state: dict[str, Any]) -> str:
    """Write one key, then fail before the second."""
    session_state["first"] = "written"
    raise RuntimeError("failed half-way")


@pytest.mark.anyio
async def test_a_tool_that_raises_leaves_the_state_as_it_was() -> None:
    """A tool's writes before it raised are undone; the model sees the error and the run commits."""
    db = InMemoryDb()
    agent = Agent(model=ScriptedModel(tool_call("half_done"), "ok"), db=db, tools=[half_done])
    output = await agent.arun("go", session_state={"kept": 1})
    assert output.tools[0].is_error
    assert output.session_state == {"kept": 1}
    assert await agent.aget_session_state() == {"kept": 1}


@pytest.mark.anyio
async def test_an_async_tool_that_raises_leaves_the_state_as_it_was() -> None:
    """The rule holds for async tools too, including a change inside a nested list."""

    async def append_then_fail(run_context: RunContext) -> str:
        """Append, then fail."""
        run_context.session_state["items"].append("x")
        raise ValueError("no")

    agent = Agent(model=ScriptedModel(tool_call("append_then_fail"), "ok"), tools=[append_then_fail])
    output = await agent.arun("go", session_state={"items": ["a"]})
    assert output.session_state == {"items": ["a"]}


@pytest.mark.anyio
async def test_a_successful_tool_after_a_failed_one_keeps_its_own_writes() -> None:
    """Undoing a failed call puts back only its writes: an earlier call's survive."""

    def good(session_state: dict[str, Any]) -> str:
        """Write a key."""
        session_state["good"] = True
        return "ok"

    model = ScriptedModel(tool_call("good"), tool_call("half_done"), "done")
    output = await Agent(model=model, tools=[good, half_done]).arun("go")
    assert output.session_state == {"good": True}


@pytest.mark.anyio
async def test_a_cancelled_tool_leaves_the_state_as_it_was() -> None:
    """A run cancelled while a tool is half-way records the state from before the tool."""
    db = InMemoryDb()
    started = anyio.Event()

    async def slow(session_state: dict[str, Any]) -> str:
        """Write, then wait forever."""
        session_state["partial"] = True
        started.set()
        await anyio.sleep_forever()
        return "never"

    agent = Agent(model=ScriptedModel(tool_call("slow"), "unused"), db=db, tools=[slow])
    async with anyio.create_task_group() as tg:
        tg.start_soon(agent.arun, "go")
        await started.wait()
        tg.cancel_scope.cancel()
    assert await agent.aget_session_state() == {}


@pytest.mark.anyio
async def test_a_pre_hook_that_raises_leaves_the_state_as_it_was() -> None:
    """A pre-hook's half-done write is undone; the run fails with the hook's error and stores none of it."""
    db = InMemoryDb()

    def hook(session_state: dict[str, Any]) -> None:
        session_state["hooked"] = True
        raise RuntimeError("hook failed")

    agent = Agent(model=ScriptedModel("unused"), db=db, pre_hooks=[hook], session_state={"n": 0})
    with pytest.raises(RuntimeError, match="hook failed"):
        await agent.arun("go")
    assert await agent.aget_session_state() == {"n": 0}


@pytest.mark.anyio
async def test_hooks_get_what_they_ask_for_by_the_shared_rule() -> None:
    """A hook can ask for the context by annotation and for ids by name, as the resolver says."""
    seen: dict[str, Any] = {}

    def hook(ctx: RunContext, user_id: str | None, run_input: str) -> None:
        seen.update(ctx=ctx.session_id, user=user_id, input=run_input)

    agent = Agent(model=ScriptedModel("hi"), pre_hooks=[hook])
    await agent.arun("hello", user_id="ava", session_id="s-1")
    assert seen == {"ctx": "s-1", "user": "ava", "input": "hello"}


@pytest.mark.anyio
async def test_a_hook_asking_for_something_unknown_is_a_usage_error() -> None:
    """A required hook parameter no one can fill names itself in a UsageError."""

    def hook(mystery: int) -> None:
        raise AssertionError("not called")

    with pytest.raises(UsageError, match="mystery"):
        await Agent(model=ScriptedModel("unused"), pre_hooks=[hook]).arun("go")


@pytest.mark.anyio
async def test_a_workflow_condition_that_raises_leaves_the_state_as_it_was() -> None:
    """A workflow function other than a step (a selector) follows the same rule as a tool."""
    from kern.workflow import Router

    def select(step_input: Any, session_state: dict[str, Any]) -> str:
        session_state["selector"] = "was here"
        raise RuntimeError("cannot choose")

    def only(step_input: Any) -> str:
        return "only"

    workflow = Workflow(
        name="w", steps=[Router(name="r", selector=select, choices=[Step(name="only", executor=only)])]
    )
    with pytest.raises(RuntimeError, match="cannot choose"):
        await workflow.arun("go", session_state={"n": 1})
    assert await workflow.aget_session_state() == {"n": 1}
