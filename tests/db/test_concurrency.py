"""No lost update: many runs on one session, in one process and across OS processes, keep every write."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from kern.db.base import BaseDb, SyncDb
from kern.db.postgres import PostgresDb
from kern.db.records import RunWrite
from kern.db.sqlite import SqliteDb
from kern.session.patch import diff
from kern.session.schema import RunRecord, SessionType
from kern.session.status import RunStatus

pytestmark = pytest.mark.anyio

SID = "shared"
WORKER = Path(__file__).with_name("commit_worker.py")
REPO = Path(__file__).resolve().parents[2]


async def test_concurrent_tasks_keep_every_item(db: BaseDb) -> None:
    """20 tasks each claiming, appending an item and committing leave all 20 items and version 20."""
    tasks = 20

    async def append(n: int) -> None:
        run_id = f"run-{n}"
        claim = await db.store.claim(
            SID,
            SessionType.AGENT,
            run_id=run_id,
            initial_state={"items": []},
            on_busy="wait",
            busy_timeout=60,
        )
        state = claim.state_snapshot
        items = state["items"]
        assert isinstance(items, list)
        await anyio.lowlevel.checkpoint()  # the run's work: other tasks get their turn here
        patch = diff(state, {**state, "items": [*items, run_id]})
        run = RunRecord(run_id=run_id, session_id=SID, status=RunStatus.completed)
        await db.store.commit(claim, state_patch=patch, writes=[RunWrite(run)])
        assert await db.store.release(claim)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(tasks):
                tg.start_soon(append, n)
    session = await db.store.get_session(SID)
    assert session is not None
    assert sorted(session.session_state["items"]) == sorted(f"run-{n}" for n in range(tasks))
    assert session.version == tasks
    assert len(session.runs) == tasks


@pytest.mark.slow
async def test_processes_keep_every_item_and_run(shared_store: tuple[str, str | None]) -> None:
    """4 OS processes committing 50 runs each to one session leave all 200 items and 200 runs."""
    url, schema = shared_store
    procs, commits = 4, 50
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    results: dict[int, tuple[int, bytes]] = {}

    async def spawn(proc: int) -> None:
        command = [
            sys.executable,
            "-W",
            "error",
            str(WORKER),
            url,
            schema or "-",
            SID,
            str(proc),
            str(commits),
        ]
        done = await anyio.run_process(command, check=False, env=env, cwd=REPO)
        results[proc] = (done.returncode, done.stderr)

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for proc in range(procs):
                tg.start_soon(spawn, proc)
    failed = {proc: stderr.decode()[-2000:] for proc, (code, stderr) in results.items() if code != 0}
    assert not failed
    expected = sorted(f"{proc}-{i}" for proc in range(procs) for i in range(commits))
    db: SyncDb = SqliteDb(db_url=url) if schema is None else PostgresDb(url, db_schema=schema)
    with db:
        session = db.get_session(SID)
    assert session is not None
    assert sorted(session.session_state["items"]) == expected
    assert sorted(run.run_id for run in session.runs) == expected
    assert session.version == procs * commits
