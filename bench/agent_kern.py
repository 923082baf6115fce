"""Kern's agent worker: ``.venv/bin/python bench/agent_kern.py {construct,run,arun,persisted} REPEAT``.

The model is Kern's own ``kern.testing.FunctionModel``, answering instantly with the shared script
(``_agent_common``): a tool call when the last message is the user's, else the text answer. It is built
with ``record=False``: it keeps no requests and copies no messages, so the time is Kern's, not its test
double's. The tools are plain functions, so Kern runs them in a worker thread, as agno's ``arun`` does
(``asyncio.to_thread`` for a sync tool).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from _agent_common import (
    INSTRUCTIONS,
    PROMPT,
    TOOLS,
    Framework,
    Reply,
    main,
    weather_reply,
)

from kern.agent import Agent
from kern.testing import FunctionModel, ModelRequest, ScriptItem, tool_call


def scripted(reply: Callable[[list[str], str], Reply]) -> Callable[[ModelRequest], ScriptItem]:
    """A ``FunctionModel`` function answering the framework-neutral script ``reply``."""

    def script(request: ModelRequest) -> ScriptItem:
        answer = reply([m.role for m in request.messages], request.last_user_message or "")
        return tool_call(*answer) if isinstance(answer, tuple) else answer

    return script


script = scripted(weather_reply)
"""Call the tool first, then answer."""


def construct() -> Agent:
    return Agent(model=FunctionModel(script, record=False), tools=TOOLS, instructions=INSTRUCTIONS)


def agent(db_file: Path | None = None, history: bool = False) -> Agent:
    db: Any = None
    if db_file is not None:
        from kern.db.sqlite import SqliteDb

        db = SqliteDb(db_file=db_file)
    return Agent(
        model=FunctionModel(script, record=False),
        tools=TOOLS,
        instructions=INSTRUCTIONS,
        db=db,
        add_history_to_context=history,
        num_history_runs=3,
    )


def run(agent: Agent, session_id: str | None) -> str:
    return agent.run(PROMPT, session_id=session_id).content or ""


async def arun(agent: Agent, session_id: str | None) -> str:
    return (await agent.arun(PROMPT, session_id=session_id)).content or ""


if __name__ == "__main__":
    main(Framework(construct=construct, agent=agent, run=run, arun=arun))
