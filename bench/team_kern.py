"""Kern's team worker: ``.venv/bin/python bench/team_kern.py {fanout,sqlite,postgres} REPEAT``.

The team and the measures are in ``_team_common``. ``kern.team.Team`` in its default ``coordinate``
mode, no ``max_concurrency`` bound; every model is ``kern.testing.FunctionModel`` answering the shared
scripts, built with ``record=False`` (no requests kept, no messages copied); members are
``kern.agent.Agent``s with ``id="m0"``.. (the ids the coordinator delegates to) and, for the append
measure, the ``append_item`` or ``append_item_copy`` tool, which takes the run's ``session_state`` (the
team's one live state, every member's tool calls under the session's lock) and runs in a worker thread,
as agno's ``arun`` runs a sync tool (``asyncio.to_thread``). No history anywhere. The stores are Kern's
async faces (``AsyncSqliteDb``, ``AsyncPostgresDb``); the state is read back with the db's own
``get_session``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _contention_common import Store
from _team_common import (
    MEMBER_IDS,
    PROMPT,
    Script,
    Teams,
    append_copy,
    append_in_place,
    coordinator_reply,
    main,
    member_reply,
)

from kern.agent import Agent
from kern.db.base import AsyncDb
from kern.session.schema import SessionType
from kern.team import Team
from kern.testing import FunctionModel, ModelRequest, ScriptItem, tool_call


def append_item(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the team's shared list.

    Args:
        item: The item to append.
    """
    return append_in_place(session_state, item)


def append_item_copy(session_state: dict[str, Any], item: str) -> str:
    """Append an item to the team's shared list.

    Args:
        item: The item to append.
    """
    return append_copy(session_state, item)


TOOLS = {f.__name__: f for f in (append_item, append_item_copy)}


def scripted(reply: Callable[[list[str]], Script]) -> FunctionModel:
    """A ``FunctionModel`` answering the framework-neutral script ``reply``."""

    def script(request: ModelRequest) -> ScriptItem:
        answer = reply([m.role for m in request.messages])
        return answer if isinstance(answer, str) else [tool_call(name, args) for name, args in answer]

    return FunctionModel(script, record=False)


def member(member_id: str, tool: str | None) -> Agent:
    return Agent(
        id=member_id,
        model=scripted(lambda roles: member_reply(member_id, tool, roles)),
        tools=[TOOLS[tool]] if tool else [],
        add_history_to_context=False,
    )


def team(store: Store | None, tool: str | None) -> Team:
    db: AsyncDb | None = None
    if store is not None and store.backend == "sqlite":
        from kern.db.sqlite import AsyncSqliteDb

        db = AsyncSqliteDb(db_file=store.db_file)
    elif store is not None:
        from kern.db.postgres import AsyncPostgresDb

        assert store.db_url is not None
        db = AsyncPostgresDb(store.db_url, db_schema=store.schema)
    return Team(
        model=scripted(coordinator_reply),
        members=[member(m, tool) for m in MEMBER_IDS],
        db=db,
        session_state={"items": []} if db is not None else None,
        add_history_to_context=False,
    )


async def arun(team: Team, session_id: str | None) -> str:
    return (await team.arun(PROMPT, session_id=session_id)).content or ""


async def read(team: Team, session_id: str) -> list[str]:
    assert isinstance(team.db, AsyncDb)
    session = await team.db.get_session(session_id, SessionType.TEAM)
    return list(session.session_state.get("items", [])) if session is not None else []


async def close(team: Team) -> None:
    if isinstance(team.db, AsyncDb):
        await team.db.close()


if __name__ == "__main__":
    main(Teams(team=team, arun=arun, read=read, close=close), "kern")
