"""Kern's contention worker: ``.venv/bin/python bench/contention_kern.py {sqlite,postgres} REPEAT``.

The workload and the measure are in ``_contention_common``. The store is Kern's async face
(``AsyncSqliteDb``, one worker-thread hop per transaction; ``AsyncPostgresDb`` on psycopg 3 async; a
third argument ``sync`` takes ``SqliteDb`` / ``PostgresDb`` instead); the model is
``kern.testing.FunctionModel`` answering the shared script; the tool takes the run's ``session_state``.
"""

from __future__ import annotations

from typing import Any

from _contention_common import Contender, Store, append_item, append_reply, main
from agent_kern import scripted

from kern.agent import Agent
from kern.db.base import AsyncDb, SyncDb
from kern.testing import FunctionModel


def append(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the session's list.

    Args:
        item: The item to append.
    """
    return append_item(session_state, item)


def agent(store: Store) -> Agent:
    db: AsyncDb | SyncDb
    if store.backend == "sqlite":
        from kern.db.sqlite import AsyncSqliteDb, SqliteDb

        db = (AsyncSqliteDb if store.face == "async" else SqliteDb)(db_file=store.db_file)
    else:
        from kern.db.postgres import AsyncPostgresDb, PostgresDb

        assert store.db_url is not None
        db = (AsyncPostgresDb if store.face == "async" else PostgresDb)(store.db_url, db_schema=store.schema)
    return Agent(
        model=FunctionModel(scripted(append_reply), record=False),
        tools=[append],
        db=db,
        session_state={"items": []},
        add_history_to_context=False,
        busy_timeout=300,
    )


async def arun(agent: Agent, text: str, session_id: str, user_id: str | None) -> str:
    return (await agent.arun(text, session_id=session_id, user_id=user_id)).content or ""


async def read(agent: Agent, session_id: str, user_id: str | None) -> tuple[list[str], int]:
    session = await agent.aget_session(session_id, user_id)
    if session is None:
        return [], 0
    return list(session.session_state.get("items", [])), len(session.runs)


async def close(agent: Agent) -> None:
    if isinstance(agent.db, AsyncDb):
        await agent.db.close()
    elif isinstance(agent.db, SyncDb):
        agent.db.close()


if __name__ == "__main__":
    main(Contender(agent=agent, arun=arun, read=read, close=close), "kern")
