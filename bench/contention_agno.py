"""agno's contention worker: ``bench/.venv-agno/bin/python bench/contention_agno.py {sqlite,postgres} N``.

The workload and the measure are in ``_contention_common``. The store is agno's async class
(``agno.db.sqlite.AsyncSqliteDb`` on aiosqlite, ``agno.db.postgres.AsyncPostgresDb`` on psycopg 3 async; a
third argument ``sync`` takes ``SqliteDb`` / ``PostgresDb`` instead);
the model is ``agent_agno.ScriptedModel`` answering the shared script through its async path
(``ainvoke``); agno hands a tool the run's state as ``run_context.session_state``. The state is read back
with the store's own ``get_session`` (the row agno wrote, not an Agent's cache).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("AGNO_TELEMETRY", "false")  # before agno is imported

from _agent_common import Reply
from _contention_common import Contender, Store, append_item, append_reply, main
from agent_agno import ScriptedModel
from agno.agent import Agent
from agno.db.base import SessionType
from agno.run import RunContext


@dataclass
class AppendingModel(ScriptedModel):
    """The scripted model answering the contention script."""

    def reply(self, roles: list[str], user_text: str) -> Reply:
        return append_reply(roles, user_text)


def append(run_context: RunContext, item: str) -> str:
    """Append an item to the session's list.

    Args:
        item: The item to append.
    """
    assert run_context.session_state is not None
    return append_item(run_context.session_state, item)


def agent(store: Store) -> Agent:
    db: Any
    if store.backend == "sqlite":
        from agno.db.sqlite import AsyncSqliteDb, SqliteDb

        db = (AsyncSqliteDb if store.face == "async" else SqliteDb)(db_file=str(store.db_file))
    else:
        from agno.db.postgres import AsyncPostgresDb, PostgresDb

        db = (AsyncPostgresDb if store.face == "async" else PostgresDb)(
            db_url=store.db_url, db_schema=store.schema
        )
    return Agent(
        model=AppendingModel(),
        tools=[append],
        db=db,
        session_state={"items": []},
        add_history_to_context=False,
    )


async def arun(agent: Agent, text: str, session_id: str, user_id: str | None) -> str:
    return str((await agent.arun(text, session_id=session_id, user_id=user_id)).content)


async def read(agent: Agent, session_id: str, user_id: str | None) -> tuple[list[str], int]:
    assert agent.db is not None
    session: Any = agent.db.get_session(
        session_id=session_id, session_type=SessionType.AGENT, user_id=user_id
    )
    if inspect.isawaitable(session):
        session = await session
    if session is None:
        return [], 0
    state = (session.session_data or {}).get("session_state") or {}
    return list(state.get("items", [])), len(session.runs or [])


async def close(agent: Agent) -> None:
    assert agent.db is not None
    closed = agent.db.close()
    if inspect.isawaitable(closed):
        await closed


if __name__ == "__main__":
    main(Contender(agent=agent, arun=arun, read=read, close=close), "agno")
