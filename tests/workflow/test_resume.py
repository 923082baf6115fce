"""Resuming workflow runs (DESIGN.md §1.4, §7): completed steps never run again, decisions replay,
a crashed process's run continues in another, a changed workflow refuses to resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from kern.db.base import SyncDb
from kern.exceptions import WorkflowError
from kern.run import RunStatus, StepCompleted, StepStatus
from kern.workflow import Condition, Parallel, Router, Step, StepInput, Steps, Workflow
from tests.conftest import open_store

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


class Flaky:
    """A step function that fails while ``failing`` is set, and counts its calls."""

    def __init__(self, name: str) -> None:
        self.__name__ = name
        self.failing = True
        self.calls = 0

    def __call__(self, step_input: StepInput, session_state: dict[str, Any]) -> str:
        self.calls += 1
        session_state.setdefault("items", []).append(self.__name__)
        if self.failing:
            raise RuntimeError(f"{self.__name__} failed")
        return self.__name__


class Counted:
    """A step function that appends its name to the state and counts its calls."""

    def __init__(self, name: str) -> None:
        self.__name__ = name
        self.calls = 0

    def __call__(self, step_input: StepInput, session_state: dict[str, Any]) -> str:
        self.calls += 1
        session_state.setdefault("items", []).append(self.__name__)
        return self.__name__


async def failed_run(workflow: Workflow) -> str:
    """Run ``workflow`` expecting it to fail; the failed run's id."""
    with pytest.raises(RuntimeError):
        await workflow.arun("go")
    runs = await workflow.store.get_runs(workflow.default_session_id)
    (run,) = [r for r in runs if r.parent_run_id is None and r.status is RunStatus.error]
    return run.run_id


@pytest.mark.anyio
async def test_resume_skips_completed_steps_and_reruns_the_failed_one(agent_db: SyncDb) -> None:
    """After a failure, resume runs the failed step and the rest; the completed ones are not run again."""
    first, flaky, last = Counted("first"), Flaky("flaky"), Counted("last")
    workflow = Workflow(
        name="resumable", db=agent_db, session_state={"items": []}, steps=[first, flaky, last]
    )
    run_id = await failed_run(workflow)
    flaky.failing = False
    output = await workflow.aresume(run_id)
    assert (output.run_id, output.status, output.content) == (run_id, RunStatus.completed, "last")
    assert (first.calls, flaky.calls, last.calls) == (1, 2, 1)
    assert (await workflow.aget_session_state())["items"] == ["first", "flaky", "last"]
    runs = [r for r in await workflow.store.get_runs(workflow.default_session_id) if r.parent_run_id is None]
    assert [(r.run_id, r.status) for r in runs] == [(run_id, RunStatus.completed)]


@pytest.mark.anyio
async def test_resume_reuses_the_recorded_outputs_of_completed_steps() -> None:
    """The step after the resumed one sees the output the completed step recorded."""
    flaky = Flaky("flaky")
    seen: list[Any] = []

    def after(step_input: StepInput) -> None:
        seen.append(step_input.get_step_content("first"))

    workflow = Workflow(
        name="outputs", steps=[Step(name="first", executor=lambda si: {"n": 1}), flaky, after]
    )
    run_id = await failed_run(workflow)
    flaky.failing = False
    events = [e async for e in workflow.aresume(run_id, stream=True) if isinstance(e, StepCompleted)]
    assert seen == [{"n": 1}]
    assert [(e.step_name, e.replayed) for e in events] == [
        ("first", True),
        ("flaky", False),
        ("after", False),
    ]


@pytest.mark.anyio
async def test_resume_replays_a_condition_decision() -> None:
    """A condition decided before the failure is not evaluated again: the run takes the same branch."""
    decisions = iter([True, False])
    inside, flaky = Counted("inside"), Flaky("flaky")
    condition = Condition(name="once", evaluator=lambda si: next(decisions), steps=[inside, flaky])
    workflow = Workflow(name="decided", steps=[condition])
    run_id = await failed_run(workflow)
    flaky.failing = False
    assert (await workflow.aresume(run_id)).content == "flaky"
    assert inside.calls == 1


@pytest.mark.anyio
async def test_resume_replays_a_router_choice() -> None:
    """A router's recorded choice is taken again even if the selector would now pick another."""
    picks = iter(["a", "b"])
    flaky = Flaky("a")
    router = Router(name="pick", selector=lambda si: next(picks), choices=[flaky, Counted("b")])
    workflow = Workflow(name="routed", steps=[router])
    run_id = await failed_run(workflow)
    flaky.failing = False
    assert (await workflow.aresume(run_id)).content == "a"


@pytest.mark.anyio
async def test_resume_reruns_only_the_parallel_branches_that_did_not_complete() -> None:
    """A branch that completed before its sibling failed is not run again."""
    done, flaky = Counted("done"), Flaky("flaky")
    workflow = Workflow(name="branches", steps=[Parallel(done, flaky, name="both")])
    run_id = await failed_run(workflow)
    flaky.failing = False
    output = await workflow.aresume(run_id)
    assert output.content == {"done": "done", "flaky": "flaky"}
    assert (done.calls, flaky.calls) == (1, 2)


@pytest.mark.anyio
async def test_a_resumed_step_that_failed_before_records_its_second_attempt() -> None:
    """After a failure and a resume, the failed step's row says attempt 2, the step before it attempt 1."""
    first, flaky = Counted("first"), Flaky("flaky")
    workflow = Workflow(name="attempts", steps=[first, flaky])
    run_id = await failed_run(workflow)
    flaky.failing = False
    await workflow.aresume(run_id)
    found = await workflow.store.journal(run_id)
    assert found is not None
    attempts = {row.step_path: (row.status, row.attempt) for row in found[1]}
    assert attempts == {
        "run": (StepStatus.completed, 2),
        "0": (StepStatus.completed, 1),
        "1": (StepStatus.completed, 2),
    }


@pytest.mark.anyio
async def test_resume_keeps_the_state_the_run_was_given() -> None:
    """A run's session_state= survives a failure in its first step: the resumed step sees it."""
    seen: list[Any] = []

    def first(step_input: StepInput, session_state: dict[str, Any]) -> None:
        seen.append(session_state.get("mode"))
        if len(seen) == 1:
            raise RuntimeError("first attempt fails")

    workflow = Workflow(name="given", session_state={"mode": "default"}, steps=[first])
    with pytest.raises(RuntimeError):
        await workflow.arun("go", session_state={"mode": "fast"})
    (run,) = await workflow.store.get_runs(workflow.default_session_id)
    await workflow.aresume(run.run_id)
    assert seen == ["fast", "fast"]


@pytest.mark.anyio
async def test_resuming_a_run_that_completes_meanwhile_is_refused() -> None:
    """A resume racing the live run waits for its session, then refuses: the run completed."""
    inside, release = anyio.Event(), anyio.Event()

    async def slow(step_input: StepInput) -> str:
        inside.set()
        await release.wait()
        return "done"

    workflow = Workflow(name="live", steps=[slow])
    async with anyio.create_task_group() as tg:
        tg.start_soon(workflow.arun, "go")
        await inside.wait()
        (run,) = await workflow.store.get_runs(workflow.default_session_id)

        async def resume() -> None:
            with pytest.raises(WorkflowError, match="completed"):
                await workflow.aresume(run.run_id)

        tg.start_soon(resume)
        await anyio.wait_all_tasks_blocked()
        release.set()
    runs = await workflow.store.get_runs(workflow.default_session_id)
    assert [(r.run_id, r.status) for r in runs] == [(run.run_id, RunStatus.completed)]
    session = await workflow.aget_session()
    assert session is not None
    assert [m.role for m in session.messages] == ["user", "assistant"]


@pytest.mark.anyio
async def test_a_retried_step_starts_from_the_state_before_its_failed_attempt() -> None:
    """A function step that wrote then failed is retried on the state it started from."""
    attempts: list[int] = []

    def half(step_input: StepInput, session_state: dict[str, Any]) -> None:
        attempts.append(1)
        session_state.setdefault("items", []).append("x")
        if len(attempts) == 1:
            raise RuntimeError("half done")

    workflow = Workflow(name="retry", steps=[Step(name="half", executor=half, retries=1, retry_delay=0)])
    output = await workflow.arun("go")
    assert output.session_state == {"items": ["x"]}


@pytest.mark.anyio
async def test_a_skipped_step_leaves_none_of_its_writes() -> None:
    """on_error='skip' goes on as if the step had not run, its state writes included."""

    def half(step_input: StepInput, session_state: dict[str, Any]) -> None:
        session_state["half"] = True
        raise RuntimeError("half done")

    workflow = Workflow(name="skip", steps=[Step(name="half", executor=half, on_error="skip")])
    assert (await workflow.arun("go")).session_state == {}


@pytest.mark.anyio
async def test_a_renamed_step_stops_the_resume_with_a_clear_error() -> None:
    """Resuming with a workflow whose recorded step has another name raises WorkflowError naming both."""
    first, flaky = Counted("first"), Flaky("flaky")
    workflow = Workflow(name="renamed", steps=[first, flaky])
    run_id = await failed_run(workflow)
    changed = Workflow(
        name="renamed", db=None, session_id=workflow.session_id, steps=[Counted("premier"), flaky]
    )
    with pytest.raises(WorkflowError, match=r"path 0 was 'first'.*now 'premier'"):
        await changed.aresume(run_id)
    assert first.calls == 1


@pytest.mark.anyio
async def test_a_removed_step_stops_the_resume_with_a_clear_error() -> None:
    """Resuming with a workflow that lost a recorded step raises WorkflowError naming it."""
    workflow = Workflow(name="shrunk", steps=[Parallel(Counted("a"), Flaky("flaky"), name="p")])
    run_id = await failed_run(workflow)
    changed = Workflow(name="shrunk", steps=[Parallel(Counted("a"), name="p")])
    with pytest.raises(
        WorkflowError, match=r"step 'flaky' at path 0/parallel/1 is no longer in the workflow"
    ):
        await changed.aresume(run_id)


@pytest.mark.anyio
async def test_resume_refuses_completed_unknown_and_foreign_runs() -> None:
    """A completed run, an unknown run id and another workflow's run each raise WorkflowError."""
    workflow = Workflow(name="done", steps=[Counted("only")])
    output = await workflow.arun("go")
    with pytest.raises(WorkflowError, match="completed"):
        await workflow.aresume(output.run_id)
    with pytest.raises(WorkflowError, match="no run"):
        await workflow.aresume("no-such-run")
    with pytest.raises(WorkflowError, match="not a run of workflow 'other'"):
        await Workflow(name="other", steps=[Counted("only")]).aresume(output.run_id)


def _worker(
    db: tuple[str, str | None], session: str, counter: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    url, schema = db
    command = [sys.executable, "-W", "error", str(WORKER), url, schema or "-", session, str(counter), *args]
    return subprocess.run(
        command, env=_ENV, cwd=REPO, capture_output=True, text=True, timeout=90, check=False
    )


@pytest.mark.slow
def test_a_run_killed_inside_step_3_resumes_in_a_new_process(
    shared_store: tuple[str, str | None], tmp_path: Path
) -> None:
    """SIGKILL inside step 3; resume in another process completes the run: steps 1-2 ran once, and the
    final state equals an uninterrupted run's."""
    counter = tmp_path / "counter.txt"
    killed = _worker(shared_store, "crashed", counter, "kill")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert killed.stdout.strip() == "in-step-3"
    url, schema = shared_store
    with open_store(url, schema) as db:
        (run,) = [r for r in _runs(db, "crashed") if r.parent_run_id is None]
    assert run.status is RunStatus.running  # nobody has noticed the crash yet
    resumed = _worker(shared_store, "crashed", counter, "resume", run.run_id)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert counter.read_text().split() == ["1", "2", "3", "3", "4", "5"]
    uninterrupted = _worker(shared_store, "clean", tmp_path / "clean.txt", "run")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    assert json.loads(resumed.stdout) == json.loads(uninterrupted.stdout)
    assert json.loads(resumed.stdout)["items"] == [f"step-{n}" for n in range(1, 6)]


def _runs(db: SyncDb, session_id: str) -> list[Any]:
    session = db.get_session(session_id)
    assert session is not None
    return list(session.runs)


@pytest.mark.anyio
async def test_a_branch_commit_never_carries_a_siblings_half_done_writes() -> None:
    """Branch b commits while branch a's agent has written but not finished; a then fails. The store
    holds none of a's writes, and the resumed run writes them once."""
    from kern.agent import Agent
    from kern.testing import FunctionModel, ModelRequest, tool_call

    added, b_done = anyio.Event(), anyio.Event()
    calls: list[int] = []

    def add(session_state: dict[str, Any], item: str) -> str:
        """Add an item."""
        session_state.setdefault("items", []).append(item)
        added.set()
        return "ok"

    async def model(request: ModelRequest) -> object:
        calls.append(1)
        if len(calls) in (1, 3):
            return tool_call("add", item="x")
        if len(calls) == 2:
            await b_done.wait()
            raise RuntimeError("model down")
        return "done"

    async def wait_for_a(step_input: StepInput, session_state: dict[str, Any]) -> None:
        session_state.setdefault("items", []).append("b")

    async def after_a_wrote(step_input: StepInput) -> None:
        await added.wait()

    async def tell_a(step_input: StepInput) -> None:
        b_done.set()

    writer = Agent(name="a", model=FunctionModel(model), tools=[add])
    b = Steps(name="b", steps=[after_a_wrote, wait_for_a, tell_a])
    workflow = Workflow(name="branches", session_state={"items": []}, steps=[Parallel(writer, b, name="p")])
    run_id = await failed_run(workflow)
    assert (await workflow.aget_session_state())["items"] == ["b"]
    await workflow.aresume(run_id)
    assert sorted((await workflow.aget_session_state())["items"]) == ["b", "x"]


@pytest.mark.anyio
async def test_a_retried_agent_step_starts_from_the_committed_state() -> None:
    """An agent step whose tool wrote before the model failed is retried without that write."""
    from kern.agent import Agent
    from kern.testing import ScriptedModel, tool_call

    def add(session_state: dict[str, Any], item: str) -> str:
        """Add an item."""
        session_state.setdefault("items", []).append(item)
        return "ok"

    model = ScriptedModel(
        tool_call("add", item="x"), RuntimeError("model down"), tool_call("add", item="x"), "ok"
    )
    step = Step(name="writer", agent=Agent(model=model, tools=[add]), retries=1, retry_delay=0)
    output = await Workflow(name="retry", session_state={"items": []}, steps=[step]).arun("go")
    assert output.session_state == {"items": ["x"]}


@pytest.mark.anyio
async def test_a_router_choice_that_is_gone_stops_the_resume_before_anything_runs() -> None:
    """A recorded route naming a choice the router no longer has raises WorkflowError naming it."""
    flaky = Flaky("a")
    workflow = Workflow(name="routed", steps=[Router(name="pick", selector=lambda si: "a", choices=[flaky])])
    run_id = await failed_run(workflow)
    changed = Workflow(
        name="routed", steps=[Router(name="pick", selector=lambda si: "b", choices=[Counted("b")])]
    )
    with pytest.raises(
        WorkflowError, match=r"router 'pick' at path 0 chose 'a', which is no longer one of its"
    ):
        await changed.aresume(run_id)
    runs = await workflow.store.get_runs(workflow.default_session_id)
    assert [r.status for r in runs] == [RunStatus.error]
