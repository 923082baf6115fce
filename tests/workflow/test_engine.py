"""The workflow engine (DESIGN.md §7): each step kind, state and outputs flowing between steps, journal."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import UsageError
from kern.run import RunContext, RunStatus, StepCompleted, StepStarted, StepStatus
from kern.session.schema import SessionType
from kern.team import Team
from kern.testing import ScriptedModel, tool_call
from kern.workflow import Condition, Loop, Parallel, Router, Step, StepInput, StepOutput, Steps, Workflow


def appending(name: str, count: int) -> Step:
    """A function step that appends ``count`` items named after it to the shared list."""

    def append(step_input: StepInput, session_state: dict[str, Any]) -> str:
        for i in range(count):
            session_state.setdefault("items", []).append(f"{name}-{i}")
        return name

    return Step(name=name, executor=append)


async def journal(workflow: Workflow, run_id: str) -> dict[str, Any]:
    """The run's journal rows by path."""
    found = await workflow.store.journal(run_id)
    assert found is not None
    return {row.step_path: row for row in found[1]}


@pytest.mark.anyio
async def test_parallel_branches_keep_every_write_to_the_shared_state(agent_db: SyncDb) -> None:
    """Two parallel branches appending 50 items each to one list: all 100 are stored."""
    workflow = Workflow(
        name="fill",
        db=agent_db,
        session_state={"items": []},
        steps=[Parallel(appending("a", 50), appending("b", 50))],
    )
    output = await workflow.arun("go")
    expected = sorted([f"a-{i}" for i in range(50)] + [f"b-{i}" for i in range(50)])
    assert sorted(output.session_state["items"]) == expected
    assert sorted((await workflow.aget_session_state())["items"]) == expected


@pytest.mark.anyio
async def test_parallel_branches_run_at_the_same_time() -> None:
    """Two async branches that each wait for the other both finish: they ran concurrently."""
    ping, pong = anyio.Event(), anyio.Event()

    async def first(step_input: StepInput) -> str:
        ping.set()
        await pong.wait()
        return "first"

    async def second(step_input: StepInput) -> str:
        pong.set()
        await ping.wait()
        return "second"

    workflow = Workflow(name="both", steps=[Parallel(first, second, name="pair")])
    with anyio.fail_after(10):
        output = await workflow.arun("go")
    assert output.content == {"first": "first", "second": "second"}


@pytest.mark.anyio
async def test_each_step_gets_the_previous_output_and_every_output_by_name() -> None:
    """A step sees the previous step's content and any earlier step's output by name."""
    seen: list[Any] = []

    def one(step_input: StepInput) -> str:
        return f"one({step_input.input})"

    def two(step_input: StepInput) -> StepOutput:
        return StepOutput(content=f"two({step_input.previous_step_content})")

    def three(step_input: StepInput) -> str:
        seen.append((step_input.get_step_content("one"), step_input.previous_step_content))
        return "three"

    output = await Workflow(name="chain", steps=[one, two, three]).arun("x")
    assert seen == [("one(x)", "two(one(x))")]
    assert output.content == "three"
    assert [o.content for o in output.step_outputs.values()] == ["one(x)", "two(one(x))", "three"]


@pytest.mark.anyio
async def test_state_written_by_a_step_is_seen_by_the_next_and_stored(agent_db: SyncDb) -> None:
    """A function step's state change reaches the next step (through run_context) and the store."""

    def count(step_input: StepInput, session_state: dict[str, Any]) -> None:
        session_state["n"] = session_state.get("n", 0) + 1

    def read(step_input: StepInput, run_context: RunContext) -> int:
        return run_context.session_state["n"]

    workflow = Workflow(name="state", db=agent_db, session_state={"n": 10}, steps=[count, read])
    output = await workflow.arun("go")
    assert output.content == 11
    assert await workflow.aget_session_state() == {"n": 11}
    session = await workflow.aget_session()
    assert session is not None
    assert session.session_type is SessionType.WORKFLOW


@pytest.mark.anyio
async def test_an_agent_step_shares_the_workflow_state_and_is_stored_as_a_child_run(agent_db: SyncDb) -> None:
    """An agent step's tool writes the workflow's state; its run is stored with the workflow run as parent."""

    def add(session_state: dict[str, Any], item: str) -> str:
        """Add an item."""
        session_state.setdefault("items", []).append(item)
        return "ok"

    agent = Agent(name="writer", model=ScriptedModel(tool_call("add", item="x"), "added x"), tools=[add])
    workflow = Workflow(name="agentic", db=agent_db, session_state={"items": ["start"]}, steps=[agent])
    output = await workflow.arun("add x")
    assert output.content == "added x"
    assert (await workflow.aget_session_state())["items"] == ["start", "x"]
    runs = await workflow.store.get_runs(output.session_id)
    child = next(r for r in runs if r.parent_run_id == output.run_id)
    assert (child.component_id, child.status, child.input) == ("writer", RunStatus.completed, "add x")


@pytest.mark.anyio
async def test_an_agent_step_gets_the_input_and_the_previous_output() -> None:
    """An agent step after another step is asked the workflow input with the previous step's output."""
    model = ScriptedModel("reviewed")
    workflow = Workflow(name="review", steps=[lambda step_input: "draft text", Agent(name="r", model=model)])
    await workflow.arun("review this")
    asked = model.requests[0].last_user_message or ""
    assert asked.startswith("review this")
    assert "draft text" in asked


@pytest.mark.anyio
async def test_a_team_step_runs_its_members_in_the_workflow_session() -> None:
    """A team step delegates to its member; both runs are children in the workflow session."""
    member = Agent(id="helper", model=ScriptedModel("helped"))
    coordinator = ScriptedModel(
        tool_call("delegate_task_to_member", member_id="helper", task="help"), "team done"
    )
    workflow = Workflow(name="teamwork", steps=[Team(id="crew", model=coordinator, members=[member])])
    output = await workflow.arun("go")
    assert output.content == "team done"
    runs = {r.component_id: r for r in await workflow.store.get_runs(output.session_id)}
    assert runs["crew"].parent_run_id == output.run_id
    assert runs["helper"].parent_run_id == runs["crew"].run_id


@pytest.mark.anyio
async def test_a_condition_runs_its_steps_only_when_the_evaluator_says_so() -> None:
    """A false condition skips its steps and passes the previous output on; a true one runs them."""

    def is_long(step_input: StepInput) -> bool:
        return len(step_input.input) > 3

    steps = [lambda si: "before", Condition(name="long", evaluator=is_long, steps=[lambda si: "inside"])]
    workflow = Workflow(name="cond", steps=steps)
    assert (await workflow.arun("hi")).content == "before"
    assert (await workflow.arun("hello")).content == "inside"


@pytest.mark.anyio
async def test_a_loop_stops_when_its_end_condition_holds() -> None:
    """The loop runs until end_condition sees an output it accepts, and journals each decision."""

    def bump(step_input: StepInput, session_state: dict[str, Any]) -> int:
        session_state["n"] = session_state.get("n", 0) + 1
        return session_state["n"]

    def enough(outputs: list[StepOutput]) -> bool:
        return outputs[-1].content >= 2

    workflow = Workflow(
        name="loop", steps=[Loop(name="again", steps=[bump], end_condition=enough, max_iterations=5)]
    )
    output = await workflow.arun("go")
    assert output.content == 2
    rows = await journal(workflow, output.run_id)
    assert rows["0"].decision == {"ended": [False, True]}
    assert {"0/loop/0/0", "0/loop/1/0"} <= rows.keys()
    assert "0/loop/2/0" not in rows


@pytest.mark.anyio
async def test_a_loop_without_end_condition_runs_max_iterations() -> None:
    """With no end_condition the loop body runs max_iterations times."""
    calls: list[int] = []
    workflow = Workflow(
        name="loop", steps=[Loop(name="thrice", steps=[lambda si: calls.append(1)], max_iterations=3)]
    )
    await workflow.arun("go")
    assert len(calls) == 3


@pytest.mark.anyio
async def test_a_router_runs_the_choice_its_selector_names() -> None:
    """The selector's choice (by name or object) runs; the others do not; the choice is journaled."""
    fast, slow = (
        Step(name="fast", executor=lambda si: "fast!"),
        Step(name="slow", executor=lambda si: "slow!"),
    )

    def pick(step_input: StepInput) -> Step | str:
        return fast if step_input.input == "quick" else "slow"

    workflow = Workflow(name="route", steps=[Router(name="speed", selector=pick, choices=[fast, slow])])
    quick = await workflow.arun("quick")
    assert quick.content == "fast!"
    assert (await workflow.arun("thorough")).content == "slow!"
    assert (await journal(workflow, quick.run_id))["0"].decision == {"route": ["fast"]}


@pytest.mark.anyio
async def test_steps_group_runs_in_order_under_its_name() -> None:
    """A Steps group runs its steps in order; its output is its last step's."""
    group = Steps(name="group", steps=[lambda si: "a", lambda si: f"{si.previous_step_content}b"])
    output = await Workflow(name="grouped", steps=[group]).arun("go")
    assert output.content == "ab"
    assert output.step_outputs["group"].content == "ab"


@pytest.mark.anyio
async def test_every_step_is_journaled_completed_with_its_output_and_state_changes() -> None:
    """Each step's row has its path, name, status, output and the state patch committed with it."""

    def put(step_input: StepInput, session_state: dict[str, Any]) -> str:
        session_state["k"] = "v"
        return "put"

    workflow = Workflow(name="journal", steps=[put, Parallel(lambda si: 1, name="p")])
    output = await workflow.arun("go")
    rows = await journal(workflow, output.run_id)
    assert {path: (row.step_name, row.status) for path, row in rows.items() if path != "run"} == {
        "0": ("put", StepStatus.completed),
        "1": ("p", StepStatus.completed),
        "1/parallel/0": ("<lambda>", StepStatus.completed),
    }
    assert rows["0"].output["content"] == "put"
    assert rows["0"].state_patch == [{"op": "set", "path": ["k"], "value": "v"}]
    assert rows["run"].status is StepStatus.completed


@pytest.mark.anyio
async def test_a_failing_step_fails_the_run_and_is_recorded(agent_db: SyncDb) -> None:
    """The step's exception reaches the caller; the run is stored as error, the step row too."""

    def boom(step_input: StepInput) -> None:
        raise RuntimeError("boom")

    workflow = Workflow(name="fails", db=agent_db, steps=[lambda si: "ok", boom, lambda si: "never"])
    with pytest.raises(RuntimeError, match="boom") as caught:
        await workflow.arun("go")
    assert any("'boom'" in note for note in caught.value.__notes__)
    (run,) = [
        r for r in await workflow.store.get_runs(workflow.default_session_id) if r.parent_run_id is None
    ]
    assert run.status is RunStatus.error
    assert "boom" in (run.error or "")
    rows = await journal(workflow, run.run_id)
    assert (rows["1"].status, rows["1"].error) == (StepStatus.error, "RuntimeError: boom")
    assert "2" not in rows


@pytest.mark.anyio
async def test_on_error_skip_goes_on_as_if_the_step_had_not_run() -> None:
    """A skipped failure leaves the previous output as the next step's input."""

    def boom(step_input: StepInput) -> None:
        raise RuntimeError("boom")

    steps = [
        lambda si: "kept",
        Step(name="boom", executor=boom, on_error="skip"),
        lambda si: si.previous_step_content,
    ]
    output = await Workflow(name="skip", steps=steps).arun("go")
    assert output.content == "kept"


@pytest.mark.anyio
async def test_on_error_continue_hands_the_failure_to_the_next_step() -> None:
    """A continued failure reaches the next step as a StepOutput with success False and the error."""

    def boom(step_input: StepInput) -> None:
        raise RuntimeError("boom")

    def after(step_input: StepInput) -> str:
        previous = step_input.previous_step_output
        assert previous is not None
        return f"{previous.success}:{previous.error}"

    steps = [Step(name="boom", executor=boom, on_error="continue"), after]
    output = await Workflow(name="continue", steps=steps).arun("go")
    assert output.content == "False:RuntimeError: boom"


@pytest.mark.anyio
async def test_retries_run_a_failing_step_again_when_asked() -> None:
    """retries=2 lets a step that fails twice succeed on its third attempt."""
    attempts: list[int] = []

    def flaky(step_input: StepInput) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "finally"

    step = Step(name="flaky", executor=flaky, retries=2, retry_delay=0)
    assert (await Workflow(name="retry", steps=[step]).arun("go")).content == "finally"
    assert len(attempts) == 3


@pytest.mark.anyio
async def test_no_retries_unless_asked() -> None:
    """A failing step without retries runs once."""
    attempts: list[int] = []

    def fails(step_input: StepInput) -> None:
        attempts.append(1)
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await Workflow(name="once", steps=[fails]).arun("go")
    assert len(attempts) == 1


@pytest.mark.anyio
async def test_cancelling_a_run_records_it_and_its_step_as_cancelled() -> None:
    """A cancelled run is stored as cancelled, with the step in flight cancelled in the journal."""
    started = anyio.Event()

    async def hang(step_input: StepInput) -> None:
        started.set()
        await anyio.sleep_forever()

    workflow = Workflow(name="cancel", steps=[lambda si: "first", hang])
    async with anyio.create_task_group() as tg:
        tg.start_soon(workflow.arun, "go")
        await started.wait()
        tg.cancel_scope.cancel()
    (run,) = [
        r for r in await workflow.store.get_runs(workflow.default_session_id) if r.parent_run_id is None
    ]
    assert run.status is RunStatus.cancelled
    rows = await journal(workflow, run.run_id)
    assert (rows["0"].status, rows["1"].status) == (StepStatus.completed, StepStatus.cancelled)


@pytest.mark.anyio
async def test_streaming_yields_step_events_in_order() -> None:
    """stream=True yields StepStarted and StepCompleted for every step, with their paths."""
    workflow = Workflow(name="events", steps=[lambda si: 1, Parallel(lambda si: 2, name="p")])
    events = [e async for e in workflow.arun("go", stream=True) if isinstance(e, StepStarted | StepCompleted)]
    started = [(e.step_path, e.step_name) for e in events if isinstance(e, StepStarted)]
    completed = [(e.step_path, e.content) for e in events if isinstance(e, StepCompleted)]
    assert started == [("0", "<lambda>"), ("1", "p"), ("1/parallel/0", "<lambda>")]
    assert completed == [("0", 1), ("1/parallel/0", 2), ("1", {"<lambda>": 2})]


def test_the_sync_run_works_like_the_async_one() -> None:
    """run() drives the same engine from sync code."""
    output = Workflow(name="sync", steps=[lambda si: si.input.upper()]).run("hi")
    assert (output.content, output.status) == ("HI", RunStatus.completed)


def test_print_response_shows_each_step_and_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """print_response lists every step with its path and status, then the last step's content."""

    def greet(step_input: StepInput) -> str:
        return "hello from the last step"

    Workflow(name="printed", steps=[Step(name="first", executor=lambda si: 1), greet]).print_response("go")
    printed = capsys.readouterr().out
    assert "first [0] completed" in printed
    assert "greet [1] completed" in printed
    assert "hello from the last step" in printed


@pytest.mark.anyio
async def test_system_exit_in_a_step_of_a_streamed_run_reaches_the_consumer_and_is_recorded(
    agent_db: SyncDb,
) -> None:
    """A step raising SystemExit ends a streamed run with it; the step's row and the run's say error."""

    def leave(step_input: StepInput) -> str:
        raise SystemExit(7)

    workflow = Workflow(name="w", db=agent_db, steps=[Step(name="first", executor=lambda _: "ok"), leave])
    run_ids: list[str] = []

    async def consume() -> None:
        async for event in workflow.arun("go", stream=True):
            run_ids.append(event.run_id)

    with pytest.raises(SystemExit) as raised:
        await consume()
    assert raised.value.code == 7
    rows = await journal(workflow, run_ids[0])
    assert rows["0"].status is StepStatus.completed
    assert rows["1"].status is StepStatus.error
    assert "SystemExit" in (rows["1"].error or "")
    (run,) = agent_db.get_runs(workflow.session_id)
    assert run.status is RunStatus.error


# --- inline function steps ------------------------------------------------------------------------------


def thread_of(step_input: StepInput) -> int:
    """Say which thread ran the step."""
    return threading.get_ident()


@pytest.mark.anyio
async def test_an_inline_step_runs_on_the_event_loop_thread() -> None:
    """Step(..., inline=True) calls a sync function in the event loop's own thread."""
    workflow = Workflow(name="w", steps=[Step(executor=thread_of, inline=True)])
    output = await workflow.arun("go")
    assert output.content == threading.get_ident()


@pytest.mark.anyio
async def test_a_default_sync_step_runs_in_a_worker_thread() -> None:
    """Without inline, a sync function step runs in a worker thread."""
    output = await Workflow(name="w", steps=[Step(executor=thread_of)]).arun("go")
    assert output.content != threading.get_ident()


@pytest.mark.anyio
async def test_inline_state_steps_under_a_run_timeout_share_the_live_state() -> None:
    """Under a deadline, inline steps taking the state get the run's live dict, not a copy each."""
    seen: list[dict[str, Any]] = []

    def note(step_input: StepInput, session_state: dict[str, Any]) -> str:
        seen.append(session_state)
        session_state["n"] = session_state.get("n", 0) + 1
        return "ok"

    steps = [Step(name="a", executor=note, inline=True), Step(name="b", executor=note, inline=True)]
    output = await Workflow(name="w", steps=steps).arun("go", timeout=30)
    assert seen[0] is seen[1]
    assert output.session_state == {"n": 2}


def test_inline_is_for_function_steps_only() -> None:
    """inline=True on an agent step is refused with a UsageError naming the step."""
    agent = Agent(name="writer", model=ScriptedModel("hi"))
    with pytest.raises(UsageError, match="step 'writer': inline=True applies to a function step"):
        Step(agent=agent, inline=True)


@pytest.mark.anyio
async def test_a_step_in_flight_has_no_journal_row_yet() -> None:
    """A step's start is not committed: while it runs, the journal holds the steps before it only."""
    seen: list[dict[str, Any]] = []

    async def look(step_input: StepInput, run_context: RunContext) -> str:
        seen.append(await journal(workflow, run_context.run_id))
        return "looked"

    workflow = Workflow(name="in-flight", steps=[lambda si: "first", look])
    await workflow.arun("go")
    assert {path: row.status for path, row in seen[0].items()} == {
        "run": StepStatus.running,
        "0": StepStatus.completed,
    }


@pytest.mark.anyio
async def test_a_condition_commits_its_decision_before_its_steps_run() -> None:
    """The condition's row, with its decision, is in the store when its first step runs."""
    seen: list[dict[str, Any]] = []

    async def look(step_input: StepInput, run_context: RunContext) -> str:
        seen.append(await journal(workflow, run_context.run_id))
        return "looked"

    workflow = Workflow(
        name="decided", steps=[Condition(name="when", evaluator=lambda si: True, steps=[look])]
    )
    await workflow.arun("go")
    row = seen[0]["0"]
    assert (row.step_name, row.status, row.decision, row.attempt) == (
        "when",
        StepStatus.running,
        {"condition": True},
        1,
    )
    assert "0/condition/0" not in seen[0]


@pytest.mark.anyio
async def test_a_step_row_keeps_its_attempt_and_when_it_started() -> None:
    """The completed row says attempt 1 and spans the step: started before it ran, finished after."""
    ran_at: list[float] = []

    def mark(step_input: StepInput) -> str:
        ran_at.append(time.time())
        return "marked"

    workflow = Workflow(name="timed", steps=[mark])
    output = await workflow.arun("go")
    row = (await journal(workflow, output.run_id))["0"]
    assert row.attempt == 1
    assert row.finished_at is not None
    assert row.started_at <= ran_at[0] <= row.finished_at
