"""An Agent run: its output, what it stores, and its faces (async, sync, streaming)."""

from __future__ import annotations

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.run import (
    RunCompleted,
    RunContent,
    RunOutput,
    RunStarted,
    RunStatus,
    ToolCallCompleted,
    ToolCallStarted,
)
from kern.session.schema import SessionType
from kern.testing import ScriptedModel, tool_call


def add_item(session_state: dict[str, list[str]], item: str) -> str:
    """Add an item to the shopping list."""
    session_state.setdefault("items", []).append(item)
    return f"added {item}"


@pytest.mark.anyio
async def test_arun_returns_the_models_answer_with_ids() -> None:
    """arun returns a completed RunOutput carrying the answer and the run's identity."""
    agent = Agent(model=ScriptedModel("hello there"), user_id="u1")
    output = await agent.arun("hi")
    assert isinstance(output, RunOutput)
    assert (output.content, output.status) == ("hello there", RunStatus.completed)
    assert (output.session_id, output.user_id, output.source) == (agent.session_id, "u1", "agent")
    assert [m.role for m in output.messages] == ["user", "assistant"]


@pytest.mark.anyio
async def test_metrics_count_model_calls_tools_and_tokens() -> None:
    """The metrics add up every model call of the run."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "done")
    output = await Agent(model=model, tools=[add_item]).arun("add milk")
    assert (output.metrics.model_calls, output.metrics.tool_calls) == (2, 1)
    assert output.metrics.input_tokens > 0
    assert output.metrics.output_tokens > 0
    assert output.metrics.total_tokens == output.metrics.input_tokens + output.metrics.output_tokens


@pytest.mark.anyio
async def test_run_and_messages_are_stored(agent_db: SyncDb) -> None:
    """The completed run and its messages are in the store, in order."""
    model = ScriptedModel(tool_call("add_item", item="milk"), "done")
    agent = Agent(model=model, db=agent_db, tools=[add_item], user_id="u1")
    output = await agent.arun("add milk")
    session = agent_db.get_session(agent.session_id, SessionType.AGENT, user_id="u1")
    assert session is not None
    assert [(r.run_id, r.status, r.output) for r in session.runs] == [
        (output.run_id, RunStatus.completed, "done")
    ]
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]
    assert session.runs[0].metrics["model_calls"] == 2


def test_sync_run_continues_the_generated_session() -> None:
    """Two sync runs without a session id share the one generated when the Agent was built."""
    agent = Agent(
        model=ScriptedModel(tool_call("add_item", item="a"), "ok", tool_call("add_item", item="b"), "ok"),
        tools=[add_item],
    )
    first = agent.run("add a")
    second = agent.run("add b")
    assert first.session_id == second.session_id == agent.session_id
    assert agent.get_session_state() == {"items": ["a", "b"]}


def test_explicit_session_id_does_not_change_the_default() -> None:
    """A run on another session leaves the Agent's default session alone."""
    agent = Agent(model=ScriptedModel("one"))
    default = agent.session_id
    output = agent.run("hi", session_id="elsewhere")
    assert output.session_id == "elsewhere"
    assert agent.session_id == default
    assert agent.get_session(default) is None


@pytest.mark.anyio
async def test_stream_yields_typed_events_in_order() -> None:
    """A streamed run yields started, tool, content and completed events, all tagged with the run."""
    agent = Agent(
        id="shop", model=ScriptedModel(tool_call("add_item", item="milk"), "added milk"), tools=[add_item]
    )
    events = [event async for event in agent.arun("add milk", stream=True)]
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted
    assert kinds[-1] is RunCompleted
    assert kinds.index(ToolCallStarted) < kinds.index(ToolCallCompleted) < kinds.index(RunContent)
    assert "".join(e.content for e in events if isinstance(e, RunContent)) == "added milk"
    run_id = events[0].run_id
    assert all((e.run_id, e.session_id, e.source) == (run_id, agent.session_id, "shop") for e in events)
    completed = events[-1]
    assert isinstance(completed, RunCompleted)
    assert completed.output.session_state == {"items": ["milk"]}


def test_sync_stream_yields_the_same_events() -> None:
    """run(stream=True) iterates the events from sync code."""
    agent = Agent(model=ScriptedModel("a b c"))
    events = list(agent.run("go", stream=True))
    assert "".join(e.content for e in events if isinstance(e, RunContent)) == "a b c"
    assert isinstance(events[-1], RunCompleted)


@pytest.mark.anyio
async def test_sync_run_works_inside_a_running_event_loop() -> None:
    """Sync faces called from code already inside an event loop still work."""
    agent = Agent(model=ScriptedModel(tool_call("add_item", item="x"), "ok"), tools=[add_item])
    output = agent.run("add x")
    assert output.content == "ok"
    assert agent.get_session_state() == {"items": ["x"]}


def test_print_response_prints_the_exchange(capsys: pytest.CaptureFixture[str]) -> None:
    """print_response shows the message, the tool call and the answer."""
    agent = Agent(
        model=ScriptedModel(tool_call("add_item", item="milk"), "Added **milk**"),
        tools=[add_item],
        markdown=True,
    )
    agent.print_response("add milk", stream=True)
    printed = capsys.readouterr().out
    assert "add milk" in printed
    assert "add_item" in printed
    assert "Added milk" in printed  # markdown rendered: no asterisks
    assert printed.endswith("╯\n")  # the next print starts on a line of its own


@pytest.mark.anyio
async def test_aprint_response_returns_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    """aprint_response prints and hands back the run's output."""
    agent = Agent(model=ScriptedModel("plain answer"))
    output = await agent.aprint_response("question")
    assert output is not None
    assert output.content == "plain answer"
    assert "plain answer" in capsys.readouterr().out


@pytest.mark.anyio
async def test_concurrent_runs_on_different_sessions_keep_their_state() -> None:
    """One Agent object serves concurrent runs for different users without mixing their state."""
    import anyio

    from kern.testing import FunctionModel, ModelRequest

    def model(request: ModelRequest) -> object:
        if request.tool_results:
            return "ok"
        return tool_call("add_item", item=request.last_user_message or "")

    agent = Agent(model=FunctionModel(model), tools=[add_item])

    async def one(n: int) -> None:
        await agent.arun(f"item-{n}", session_id=f"s{n}", user_id=f"u{n}")

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(one, n)
    for n in range(20):
        assert await agent.aget_session_state(f"s{n}", user_id=f"u{n}") == {"items": [f"item-{n}"]}


@pytest.mark.anyio
async def test_cancelled_run_is_recorded_and_releases_the_session(agent_db: SyncDb) -> None:
    """Cancelling a run mid-tool commits it as cancelled, without the cut-off tool's writes, and frees
    the session."""
    import anyio

    started = anyio.Event()

    async def slow(session_state: dict[str, bool]) -> str:
        """Start, then hang."""
        session_state["touched"] = True
        started.set()
        await anyio.sleep_forever()
        return "never"

    agent = Agent(
        model=ScriptedModel(tool_call("slow"), "next run"), db=agent_db, tools=[slow], on_busy="reject"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(agent.arun, "go")
        await started.wait()
        tg.cancel_scope.cancel()
    session = agent_db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    assert [r.status for r in session.runs] == [RunStatus.cancelled]
    assert session.session_state == {}
    assert (await agent.arun("again")).content == "next run"


def test_log_events_carry_the_run_and_session_ids(caplog: pytest.LogCaptureFixture) -> None:
    """Kern's log events are bound to the run they happen in."""

    def broken() -> str:
        """Fail."""
        raise RuntimeError("x")

    agent = Agent(model=ScriptedModel(tool_call("broken"), "ok"), tools=[broken])
    with caplog.at_level("WARNING", logger="kern"):
        output = agent.run("go")
    (record,) = [r for r in caplog.records if r.getMessage() == "tool.failed"]
    assert (record.__dict__["run_id"], record.__dict__["session_id"]) == (output.run_id, output.session_id)
    assert record.__dict__["tool"] == "broken"


@pytest.mark.anyio
async def test_breaking_out_of_a_stream_cancels_the_run_and_leaves_the_caller_unharmed() -> None:
    """Leaving a stream with a plain break (no aclose) cancels that run; the caller's next run works."""
    import gc

    model = ScriptedModel("one two three four", "next")
    agent = Agent(model=model)
    async for _ in agent.arun("first", stream=True):
        break
    gc.collect()
    output = await agent.arun("second")
    assert output.content == "next"
    session = await agent.aget_session()
    assert session is not None
    assert [r.status for r in session.runs] == [RunStatus.cancelled, RunStatus.completed]


@pytest.mark.anyio
async def test_task_cancel_records_the_run_as_cancelled(agent_db: SyncDb) -> None:
    """asyncio's own Task.cancel() on a running arun commits it as cancelled and frees the session."""
    import asyncio

    import anyio

    started = anyio.Event()

    async def slow() -> str:
        """Hang."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    model = ScriptedModel(tool_call("slow"), "after")
    agent = Agent(model=model, db=agent_db, tools=[slow], on_busy="reject")
    task = asyncio.get_running_loop().create_task(agent.arun("go"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    session = agent_db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    assert [r.status for r in session.runs] == [RunStatus.cancelled]
    assert (await agent.arun("again")).content == "after"


@pytest.mark.anyio
async def test_events_of_a_named_agent_all_carry_its_derived_id() -> None:
    """An Agent named "My Bot" (no id) tags every event, tool events included, with "my-bot"."""
    model = ScriptedModel(tool_call("add_item", item="x"), "done")
    agent = Agent(name="My Bot", model=model, tools=[add_item])
    events = [e async for e in agent.arun("go", stream=True)]
    assert agent.id == "my-bot"
    assert {e.source for e in events} == {"my-bot"}
