"""agno's team worker: ``bench/.venv-agno/bin/python bench/team_agno.py {fanout,sqlite,postgres} REPEAT``.

The team and the measures are in ``_team_common``. ``agno.team.Team`` in its default (coordinate)
mode; agno's coordinator delegates with ``delegate_task_to_member(member_id, task)``, and in ``arun``
it runs the delegations of one turn as concurrent asyncio tasks. Every model is a
:class:`TeamScriptedModel` (``agent_agno.ScriptedModel`` answering several tool calls in one response)
through its async path; members are ``agno.agent.Agent``s with ``id="m0"``.. and, for the append measure,
the ``append_item`` or ``append_item_copy`` tool, which gets the member run's state as
``run_context.session_state``: agno hands each member a shallow copy of the team's state
(``copy(run_context.session_state)``) and merges that copy's keys back into the team's state when the
member ends (``merge_dictionaries``), so a list changed in place is the team's list, and a list written
back replaces the team's, the last member to end winning. The stores are agno's
async classes (``AsyncSqliteDb``, ``AsyncPostgresDb``), given to the team only (as agno's examples do);
the state is read back with the db's own ``get_session`` (the row agno wrote, not the team's cache).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("AGNO_TELEMETRY", "false")  # before agno is imported

from _contention_common import Store
from _team_common import (
    ANSWER,
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
from agent_agno import ScriptedModel, _ids
from agno.agent import Agent
from agno.db.base import SessionType
from agno.metrics import MessageMetrics
from agno.models.message import Message
from agno.models.response import ModelResponse
from agno.run import RunContext
from agno.team import Team


@dataclass
class TeamScriptedModel(ScriptedModel):
    """Answers at once with ``script``: a text, or several tool calls in one response."""

    script: Callable[[list[str]], Script] = field(default=lambda roles: ANSWER)

    def _answer(self, messages: list[Message]) -> ModelResponse:
        size = sum(len(m.get_content_string()) for m in messages) // 4
        reply = self.script([m.role for m in messages])
        if isinstance(reply, str):
            usage = MessageMetrics(input_tokens=size, output_tokens=9, total_tokens=size + 9)
            return ModelResponse(role="assistant", content=reply, response_usage=usage)
        calls = [
            {
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for name, arguments in reply
        ]
        output = 5 * len(calls)
        usage = MessageMetrics(input_tokens=size, output_tokens=output, total_tokens=size + output)
        return ModelResponse(role="assistant", tool_calls=calls, response_usage=usage)


def append_item(run_context: RunContext, item: str) -> str:
    """Append an item to the team's shared list.

    Args:
        item: The item to append.
    """
    assert run_context.session_state is not None
    return append_in_place(run_context.session_state, item)


def append_item_copy(run_context: RunContext, item: str) -> str:
    """Append an item to the team's shared list.

    Args:
        item: The item to append.
    """
    assert run_context.session_state is not None
    return append_copy(run_context.session_state, item)


TOOLS = {f.__name__: f for f in (append_item, append_item_copy)}


def member(member_id: str, tool: str | None) -> Agent:
    return Agent(
        id=member_id,
        model=TeamScriptedModel(script=lambda roles: member_reply(member_id, tool, roles)),
        tools=[TOOLS[tool]] if tool else [],
    )


def team(store: Store | None, tool: str | None) -> Team:
    db: Any = None
    if store is not None and store.backend == "sqlite":
        from agno.db.sqlite import AsyncSqliteDb

        db = AsyncSqliteDb(db_file=str(store.db_file))
    elif store is not None:
        from agno.db.postgres import AsyncPostgresDb

        db = AsyncPostgresDb(db_url=store.db_url, db_schema=store.schema)
    return Team(
        model=TeamScriptedModel(script=coordinator_reply),
        members=[member(m, tool) for m in MEMBER_IDS],
        db=db,
        session_state={"items": []} if db is not None else None,
    )


async def arun(team: Team, session_id: str | None) -> str:
    return str((await team.arun(PROMPT, session_id=session_id)).content)


async def read(team: Team, session_id: str) -> list[str]:
    assert team.db is not None
    session: Any = team.db.get_session(session_id=session_id, session_type=SessionType.TEAM)
    if inspect.isawaitable(session):
        session = await session
    if session is None:
        return []
    state = (session.session_data or {}).get("session_state") or {}
    return list(state.get("items", []))


async def close(team: Team) -> None:
    if team.db is not None:
        closed = team.db.close()
        if inspect.isawaitable(closed):
            await closed


if __name__ == "__main__":
    main(Teams(team=team, arun=arun, read=read, close=close), "agno")
