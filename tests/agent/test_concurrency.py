"""No lost update (DESIGN.md §1.1, §5): concurrent runs on one session, across tasks and processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import SessionBusyError
from kern.run import RunStatus
from kern.session.schema import SessionType
from kern.testing import FunctionModel, ModelRequest, ScriptedModel, tool_call
from tests.conftest import open_store

WORKER = Path(__file__).with_name("run_worker.py")
REPO = Path(__file__).resolve().parents[2]


def append(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the shared list."""
    session_state.setdefault("items", []).append(item)
    return "ok"


def _appending_model() -> FunctionModel:
    """Calls append with the user's message, then answers."""

    def answer(request: ModelRequest) -> object:
        return "done" if request.tool_results else tool_call("append", item=request.last_user_message)

    return FunctionModel(answer)


@pytest.mark.anyio
async def test_fifty_concurrent_runs_on_one_session_keep_everything(agent_db: SyncDb) -> None:
    """50 concurrent arun on one session: all 50 items, 50 completed runs, each run's messages in order."""
    agent = Agent(
        model=_appending_model(), db=agent_db, tools=[append], session_id="shared", busy_timeout=120
    )
    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(agent.arun, f"item-{n}")
    session = agent_db.get_session("shared", SessionType.AGENT)
    assert session is not None
    expected = sorted(f"item-{n}" for n in range(50))
    assert sorted(session.session_state["items"]) == expected
    assert [r.status for r in session.runs] == [RunStatus.completed] * 50
    roles = [m.role for m in session.messages]
    assert roles == ["user", "assistant", "tool", "assistant"] * 50
    users = [m.content for m in session.messages if m.role == "user"]
    tools = [m for m in session.messages if m.role == "tool"]
    assert sorted(u or "" for u in users) == expected
    assert len(tools) == 50


@pytest.mark.anyio
async def test_two_hundred_sessions_never_mix(agent_db: SyncDb) -> None:
    """200 concurrent runs for 200 users on one shared Agent: each session holds exactly its own item."""
    agent = Agent(model=_appending_model(), db=agent_db, tools=[append])

    async def one(n: int) -> None:
        await agent.arun(f"item-{n}", session_id=f"s-{n}", user_id=f"user-{n}")

    async with anyio.create_task_group() as tg:
        for n in range(200):
            tg.start_soon(one, n)
    for n in range(200):
        session = agent_db.get_session(f"s-{n}", SessionType.AGENT, user_id=f"user-{n}")
        assert session is not None
        assert session.session_state == {"items": [f"item-{n}"]}
        assert [m.content for m in session.messages if m.role == "user"] == [f"item-{n}"]
        assert [r.user_id for r in session.runs] == [f"user-{n}"]


@pytest.mark.anyio
async def test_reject_answers_busy_while_the_wait_default_proceeds(agent_db: SyncDb) -> None:
    """While a run holds the session, on_busy='reject' raises at once; the waiting default runs after it."""
    holding, release = anyio.Event(), anyio.Event()

    async def hold() -> str:
        """Hold the session until released."""
        holding.set()
        await release.wait()
        return "held"

    model = ScriptedModel(tool_call("hold"), "first done", "second done")
    waiting = Agent(model=model, db=agent_db, tools=[hold], session_id="busy")
    rejecting = Agent(model=model, db=agent_db, session_id="busy", on_busy="reject")
    outputs: list[str] = []

    async def run_and_keep(text: str) -> None:
        outputs.append((await waiting.arun(text)).content)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_and_keep, "first")
        await holding.wait()
        with pytest.raises(SessionBusyError):
            await rejecting.arun("rejected")
        tg.start_soon(run_and_keep, "second")
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert outputs == ["first done", "second done"]


@pytest.mark.anyio
async def test_idempotency_key_returns_the_recorded_run(agent_db: SyncDb) -> None:
    """The same key on the same session returns the recorded run; the model is not called again."""
    model = ScriptedModel(tool_call("append", item="once"), "done")
    agent = Agent(model=model, db=agent_db, tools=[append], session_id="hooks")
    first = await agent.arun("webhook", idempotency_key="evt-1")
    again = await agent.arun("webhook", idempotency_key="evt-1")
    assert (again.run_id, again.content, again.status) == (first.run_id, "done", RunStatus.completed)
    assert [m.role for m in again.messages] == ["user", "assistant", "tool", "assistant"]
    assert again.session_state == {"items": ["once"]}
    assert len(model.requests) == 2


@pytest.mark.anyio
async def test_concurrent_calls_with_one_key_run_once(agent_db: SyncDb) -> None:
    """Ten concurrent deliveries of one webhook run it once and all get its output."""
    agent = Agent(model=_appending_model(), db=agent_db, tools=[append], session_id="hooks")
    run_ids: set[str] = set()

    async def deliver() -> None:
        run_ids.add((await agent.arun("evt", idempotency_key="evt-2")).run_id)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(deliver)
    assert len(run_ids) == 1
    assert await agent.aget_session_state() == {"items": ["evt"]}


@pytest.mark.anyio
async def test_failed_run_with_a_key_runs_again(agent_db: SyncDb) -> None:
    """A key whose run failed does not replay the failure: the retry runs."""
    from kern.exceptions import ModelRequestError

    model = ScriptedModel(ModelRequestError("flaky"), "worked")
    agent = Agent(model=model, db=agent_db, session_id="hooks")
    with pytest.raises(ModelRequestError):
        await agent.arun("evt", idempotency_key="evt-3")
    assert (await agent.arun("evt", idempotency_key="evt-3")).content == "worked"


def _worker(url: str, schema: str | None, mode: str, arg: str) -> list[str]:
    return [sys.executable, "-W", "error", str(WORKER), url, schema or "-", "shared", mode, arg]


_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


@pytest.mark.slow
@pytest.mark.anyio
async def test_four_processes_keep_every_run_and_item(shared_store: tuple[str, str | None]) -> None:
    """4 OS processes x 25 Agent runs on one session: all 100 items and 100 completed runs."""
    url, schema = shared_store
    failures: list[str] = []

    async def spawn(proc: int) -> None:
        done = await anyio.run_process(
            _worker(url, schema, "runs", str(proc)), check=False, env=_ENV, cwd=REPO
        )
        if done.returncode != 0:
            failures.append(done.stderr.decode()[-2000:])

    with anyio.fail_after(110):
        async with anyio.create_task_group() as tg:
            for proc in range(4):
                tg.start_soon(spawn, proc)
    assert failures == []
    with open_store(url, schema) as db:
        session = db.get_session("shared")
    assert session is not None
    expected = sorted(f"p{proc}-{i}" for proc in range(4) for i in range(25))
    assert sorted(session.session_state["items"]) == expected
    assert [r.status for r in session.runs] == [RunStatus.completed] * 100


def _start_hanging(url: str, schema: str | None) -> subprocess.Popen[bytes]:
    """A worker whose run has committed one tool batch and hangs in the next (it says "ready")."""
    process = subprocess.Popen(
        _worker(url, schema, "hang", "-"), env=_ENV, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the worker is inside its hanging tool
    if line.strip() != b"ready":
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"worker did not get ready: {line!r} {err.decode()[-2000:]}")
    return process


@pytest.mark.slow
def test_sigkill_mid_run_then_the_next_run_takes_over(shared_store: tuple[str, str | None]) -> None:
    """After SIGKILL mid-run the next run proceeds once the lease expires, keeping the killed run's
    committed tool batch, marking that run abandoned, duplicating nothing."""
    url, schema = shared_store
    process = _start_hanging(url, schema)
    process.kill()
    process.communicate(timeout=30)
    with open_store(url, schema) as db:
        agent = Agent(model=_appending_model(), db=db, tools=[append], session_id="shared", busy_timeout=30)
        agent.run("after-kill")
        session = db.get_session("shared")
    assert session is not None
    assert session.session_state == {"items": ["before-kill", "after-kill"]}
    assert [r.status for r in session.runs] == [RunStatus.abandoned, RunStatus.completed]
    assert [m.role for m in session.messages] == [
        *("user", "assistant", "tool"),  # the killed run, up to its last commit
        *("user", "assistant", "tool", "assistant"),  # the run after it
    ]


@pytest.mark.slow
def test_ctrl_c_in_run_records_the_run_as_cancelled(shared_store: tuple[str, str | None]) -> None:
    """KeyboardInterrupt during the sync run() commits the run as cancelled before it propagates."""
    url, schema = shared_store
    process = _start_hanging(url, schema)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip() == "cancelled"
