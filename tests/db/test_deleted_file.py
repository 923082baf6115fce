"""A SQLite file deleted or replaced under an open store fails what comes next; nothing is written blind."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.sqlite import AsyncSqliteDb, SqliteDb
from kern.exceptions import StorageError
from kern.session import SessionType
from kern.testing import ScriptedModel, tool_call

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("commit_worker.py")
REPO = Path(__file__).resolve().parents[2]


def deleted(path: Path) -> str:
    """The pattern of the error for ``path`` deleted under the store."""
    return f"{re.escape(str(path))} was deleted while the store was open"


def replaced(path: Path) -> str:
    """The pattern of the error for ``path`` replaced under the store."""
    return f"{re.escape(str(path))} was replaced by another file while the store was open"


def delete(path: Path) -> None:
    """Delete the database file only, as ``rm agents.db`` does (its -wal and -shm stay)."""
    path.unlink()


def replace_with_another_database(path: Path) -> None:
    """Rename another SQLite database over ``path``, as a restore by rename does."""
    other = path.with_name("other.db")
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("CREATE TABLE restored (x INTEGER)")
    conn.close()
    os.replace(other, path)


def tables_of(path: Path) -> list[str]:
    """The names of the tables in the SQLite file at ``path``."""
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the store's file lives."""
    return tmp_path / "agents.db"


def test_sync_write_after_the_file_is_deleted_raises(path: Path) -> None:
    """SqliteDb: after its file is deleted, the next write raises StorageError naming the path."""
    with SqliteDb(db_file=path) as db:
        db.create_session("s1", SessionType.AGENT)
        delete(path)
        with pytest.raises(StorageError, match=deleted(path)):
            db.create_session("s2", SessionType.AGENT)


def test_sync_write_after_the_file_is_replaced_raises(path: Path) -> None:
    """SqliteDb: after another SQLite file is renamed over its file, the next write raises StorageError."""
    with SqliteDb(db_file=path) as db:
        db.create_session("s1", SessionType.AGENT)
        replace_with_another_database(path)
        with pytest.raises(StorageError, match=replaced(path)):
            db.create_session("s2", SessionType.AGENT)


def test_sync_read_after_the_file_is_deleted_raises(path: Path) -> None:
    """SqliteDb: a read after its file is deleted raises too, rather than answer from the deleted file."""
    with SqliteDb(db_file=path) as db:
        db.create_session("s1", SessionType.AGENT)
        delete(path)
        with pytest.raises(StorageError, match=deleted(path)):
            db.get_session("s1")


def test_a_deleted_file_is_not_recreated_empty(path: Path) -> None:
    """Every later operation fails as deleted too, and no empty database appears at the path."""
    with SqliteDb(db_file=path) as db:
        db.create_session("s1", SessionType.AGENT)
        delete(path)
        for _ in range(3):
            with pytest.raises(StorageError, match=deleted(path)):
                db.create_session("s2", SessionType.AGENT)
        assert not path.exists()


def test_a_restored_file_is_left_as_restored(path: Path) -> None:
    """A restore done by the book (old -wal and -shm removed) under an open store is never written to."""
    with SqliteDb(db_file=path) as db:
        db.create_session("s1", SessionType.AGENT)
        for sidecar in ("-wal", "-shm"):
            path.with_name(path.name + sidecar).unlink()
        replace_with_another_database(path)
        with pytest.raises(StorageError, match=replaced(path)):
            db.create_session("s2", SessionType.AGENT)
    assert tables_of(path) == ["restored"]


def test_noticing_releases_the_file_for_other_processes(path: Path) -> None:
    """Once the store notices, it holds no connection that keeps another process off a new file there."""
    db = SqliteDb(db_file=path)
    db.create_session("s1", SessionType.AGENT)
    engine = db._executor.engine  # pyright: ignore[reportPrivateUsage]
    with engine.connect(), engine.connect(), engine.connect():
        pass  # three pooled connections, all on the file about to be deleted
    delete(path)
    with pytest.raises(StorageError, match=deleted(path)):
        db.create_session("s2", SessionType.AGENT)
    script = (
        "import sys\n"
        "from kern.db.sqlite import SqliteDb\n"
        "from kern.session import SessionType\n"
        "with SqliteDb(db_file=sys.argv[1]) as db:\n"
        "    db.create_session('fresh', SessionType.AGENT)\n"
        "    assert db.get_session('fresh') is not None\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    db.close()
    assert done.returncode == 0, done.stderr


async def test_async_write_after_the_file_is_deleted_raises(path: Path) -> None:
    """AsyncSqliteDb: after its file is deleted, every later write raises StorageError naming the path."""
    async with AsyncSqliteDb(db_file=path) as db:
        await db.create_session("s1", SessionType.AGENT)
        delete(path)
        with pytest.raises(StorageError, match=deleted(path)):
            await db.create_session("s2", SessionType.AGENT)
        with pytest.raises(StorageError, match=deleted(path)):
            await db.create_session("s3", SessionType.AGENT)


async def test_async_write_after_the_file_is_replaced_raises(path: Path) -> None:
    """AsyncSqliteDb: after another SQLite file is renamed over its file, the next write raises."""
    async with AsyncSqliteDb(db_file=path) as db:
        await db.create_session("s1", SessionType.AGENT)
        replace_with_another_database(path)
        with pytest.raises(StorageError, match=replaced(path)):
            await db.create_session("s2", SessionType.AGENT)


def test_agent_run_on_a_deleted_file_fails(path: Path) -> None:
    """An Agent run on a SqliteDb whose file was deleted raises StorageError instead of completing."""
    with SqliteDb(db_file=path) as db:
        agent = Agent(model=ScriptedModel("first", "second"), db=db)
        agent.run("hi")
        delete(path)
        with pytest.raises(StorageError, match=deleted(path)):
            agent.run("again")


def test_agent_run_whose_file_is_deleted_mid_run_fails(path: Path) -> None:
    """A file deleted while a run is in its model/tool loop fails the run at its commit."""

    def delete_the_store(session_state: dict[str, Any]) -> str:
        """Delete the database file."""
        session_state["touched"] = True
        delete(path)
        return "deleted"

    with SqliteDb(db_file=path) as db:
        model = ScriptedModel(tool_call("delete_the_store"), "done")
        agent = Agent(model=model, db=db, tools=[delete_the_store])
        with pytest.raises(StorageError, match=deleted(path)):
            agent.run("go")


async def test_many_writes_and_several_stores_on_one_file_keep_working(path: Path) -> None:
    """No false positive: two SqliteDb objects and an AsyncSqliteDb on one file all keep working."""
    with SqliteDb(db_file=path) as first, SqliteDb(db_url=f"sqlite:///{path}") as second:
        async with AsyncSqliteDb(db_file=path) as third:
            for i in range(50):
                first.create_session(f"a{i}", SessionType.AGENT, session_state={"i": i})
                second.create_session(f"b{i}", SessionType.AGENT, session_state={"i": i})
                await third.create_session(f"c{i}", SessionType.AGENT, session_state={"i": i})
            assert (await third.get_session("a49")) is not None
        assert first.get_session("c49") is not None
        assert second.get_session("a0") is not None


def test_a_relative_path_survives_a_change_of_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No false positive: the watched file is the one SQLite opened, whatever the working directory."""
    monkeypatch.chdir(tmp_path)
    with SqliteDb(db_file="agents.db") as db:
        db.create_session("s1", SessionType.AGENT)
        monkeypatch.chdir(tmp_path.parent)
        db.create_session("s2", SessionType.AGENT)
        assert db.get_session("s1") is not None


@pytest.mark.slow
async def test_processes_opening_a_new_file_at_once_see_no_replacement(path: Path) -> None:
    """No false positive: four processes creating the same new file at once all commit every run."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    url, procs, commits = f"sqlite:///{path}", 4, 10
    failed: list[str] = []

    async def spawn(proc: int) -> None:
        command = [sys.executable, "-W", "error", str(WORKER), url, "-", "s", str(proc), str(commits)]
        done = await anyio.run_process(command, check=False, env=env, cwd=REPO)
        if done.returncode != 0:
            failed.append(done.stderr.decode()[-2000:])

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for proc in range(procs):
                tg.start_soon(spawn, proc)
    assert not failed
    with SqliteDb(db_url=url) as db:
        session = db.get_session("s")
    assert session is not None
    assert len(session.runs) == procs * commits
