"""AsyncSqliteDb runs each whole transaction in one worker-thread hop, from any event loop.

Hops are counted by wrapping ``anyio.to_thread.run_sync`` (the executor's only way off the loop), and
every DB-API call is checked to run off the event loop's thread, so no call escapes the count.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import Connection, event

from kern.db.records import RunWrite
from kern.db.sqlite import AsyncSqliteDb
from kern.models.message import Message
from kern.session.schema import RunRecord, SessionType
from kern.session.status import RunStatus

pytestmark = pytest.mark.anyio


class Hops:
    """Counts worker-thread hops and the threads that ran DB-API statements."""

    def __init__(self) -> None:
        self.hops = 0
        self.statement_threads: set[int] = set()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncSqliteDb]:
    """An AsyncSqliteDb on a fresh file, used once so that its schema is checked."""
    async with AsyncSqliteDb(db_file=tmp_path / "kern.db") as store:
        await store.create_session("warm-up", SessionType.AGENT)
        yield store


@pytest.fixture
def hops(db: AsyncSqliteDb, monkeypatch: pytest.MonkeyPatch) -> Hops:
    """Count the hops of ``anyio.to_thread.run_sync`` and the threads executing statements on ``db``."""
    counted = Hops()
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        counted.hops += 1
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    engine = db.store._executor.engine  # pyright: ignore[reportPrivateUsage]

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        counted.statement_threads.add(threading.get_ident())

    return counted


async def test_a_commit_is_one_hop(db: AsyncSqliteDb, hops: Hops) -> None:
    """Claim, commit (a run row and two messages) and release cost one hop each, all off the loop."""
    claim = await db.claim("s", SessionType.AGENT, run_id="r1", on_busy="reject")
    assert hops.hops == 1
    run = RunRecord(run_id="r1", session_id="s", status=RunStatus.completed)
    messages = [Message(role="user", content="hi"), Message(role="assistant", content="hello")]
    hops.hops = 0
    await db.commit(claim, writes=[RunWrite(run=run, messages=messages)])
    assert hops.hops == 1
    hops.hops = 0
    assert await db.release(claim)
    assert hops.hops == 1
    assert threading.get_ident() not in hops.statement_threads


async def test_a_read_is_one_hop(db: AsyncSqliteDb, hops: Hops) -> None:
    """Reading a session with its runs and messages (several statements) costs one hop."""
    session = await db.get_session("warm-up")
    assert session is not None
    assert hops.hops == 1
    assert hops.statement_threads
    assert threading.get_ident() not in hops.statement_threads


async def test_the_first_operation_checks_the_schema_in_the_same_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a new file the schema check and creation share the first operation's one hop."""
    counted = 0
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal counted
        counted += 1
        return await run_sync(func, *args, **kwargs)

    db = AsyncSqliteDb(db_file=tmp_path / "new.db")
    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    await db.create_session("s", SessionType.AGENT)
    assert counted == 1
    monkeypatch.undo()
    await db.close()


async def test_a_cancelled_caller_waits_for_its_transaction(db: AsyncSqliteDb) -> None:
    """Cancelling a caller whose write is in its worker thread lets the transaction finish, whole."""
    in_thread = threading.Event()
    go_on = threading.Event()
    engine = db.store._executor.engine  # pyright: ignore[reportPrivateUsage]

    @event.listens_for(engine, "begin")
    def _hold(_conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        in_thread.set()
        go_on.wait(10)

    finished: list[bool] = []
    scopes: list[anyio.CancelScope] = []

    async def write() -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await db.create_session("cancelled", SessionType.AGENT)
        finished.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write)
        await anyio.to_thread.run_sync(in_thread.wait, 10)
        scopes[0].cancel()
        await anyio.sleep(0.05)
        assert not finished  # still waiting for its transaction
        go_on.set()
    event.remove(engine, "begin", _hold)
    assert finished
    assert await db.get_session("cancelled") is not None


def test_the_store_works_from_two_event_loops_in_turn(tmp_path: Path) -> None:
    """One AsyncSqliteDb serves a loop, then another loop in another thread, then closes on a third."""
    db = AsyncSqliteDb(db_file=tmp_path / "kern.db")

    async def use(session_id: str) -> None:
        await db.create_session(session_id, SessionType.AGENT)
        assert await db.get_session(session_id) is not None

    asyncio.run(use("first"))
    failed: list[BaseException] = []

    def other_thread() -> None:
        try:
            asyncio.run(use("second"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            failed.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(30)
    assert not failed
    asyncio.run(db.close())
    with_url = AsyncSqliteDb(db_url=f"sqlite+aiosqlite:///{tmp_path / 'kern.db'}")
    names = asyncio.run(with_url.get_sessions())
    asyncio.run(with_url.close())
    assert {s.session_id for s in names} == {"first", "second"}
