"""An OS process running Agent runs on one session, for tests/agent/test_concurrency.py.

Usage: python run_worker.py DB_URL DB_SCHEMA|- SESSION_ID MODE ARG

MODE ``runs``: ARG runs, each calling a tool that appends a unique item, then answering.
MODE ``hang``: one run whose first tool batch appends "before-kill" and whose second batch prints
"ready" and hangs until the process is killed (SIGKILL) or interrupted (SIGINT: the run records
itself as cancelled, and the worker prints the run's stored status). ARG is ignored.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.db.postgres import PostgresDb
from kern.db.sqlite import SqliteDb
from kern.testing import FunctionModel, ModelRequest, ScriptedModel, tool_call


def append(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the shared list."""
    session_state.setdefault("items", []).append(item)
    return "ok"


def open_db(url: str, schema: str | None) -> SyncDb:
    return SqliteDb(db_url=url) if url.startswith("sqlite") else PostgresDb(url, db_schema=schema)


def many_runs(db: SyncDb, session_id: str, tag: str, count: int) -> None:
    def model(request: ModelRequest) -> object:
        return "done" if request.tool_results else tool_call("append", item=request.last_user_message)

    agent = Agent(model=FunctionModel(model), db=db, tools=[append], session_id=session_id, busy_timeout=120)
    for i in range(count):
        agent.run(f"{tag}-{i}")


def hanging_run(db: SyncDb, session_id: str) -> None:
    async def hang() -> str:
        """Say so, then hang."""
        print("ready", flush=True)
        await anyio.sleep(600)
        return "never"

    model = ScriptedModel(tool_call("append", item="before-kill"), tool_call("hang"))
    agent = Agent(model=model, db=db, tools=[append, hang], session_id=session_id, lease_seconds=1.0)
    try:
        agent.run("go")
    except KeyboardInterrupt:
        session = db.get_session(session_id)
        assert session is not None
        print(session.runs[-1].status.value)


if __name__ == "__main__":
    db_url, db_schema, sid, mode, arg = sys.argv[1:]
    with open_db(db_url, None if db_schema == "-" else db_schema) as store:
        if mode == "runs":
            many_runs(store, sid, f"p{arg}", 25)
        else:
            hanging_run(store, sid)
