"""Kern's agent worker: ``.venv/bin/python bench/agent_kern.py {construct,run,arun,persisted} REPEAT``.

The model is Kern's own ``kern.testing.FunctionModel``, answering instantly with the shared script
(``_agent_common``): a tool call when the last message is the user's, else the text answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _agent_common import (
    ANSWER,
    INSTRUCTIONS,
    PROMPT,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    TOOLS,
    Framework,
    main,
    wants_tool_call,
)

from kern.agent import Agent
from kern.testing import FunctionModel, ModelRequest, ScriptItem, tool_call


def script(request: ModelRequest) -> ScriptItem:
    """Call the tool first, then answer."""
    if wants_tool_call([m.role for m in request.messages]):
        return tool_call(TOOL_NAME, TOOL_ARGUMENTS)
    return ANSWER


def construct() -> Agent:
    return Agent(model=FunctionModel(script), tools=TOOLS, instructions=INSTRUCTIONS)


def agent(db_file: Path | None = None, history: bool = False) -> Agent:
    db: Any = None
    if db_file is not None:
        from kern.db.sqlite import SqliteDb

        db = SqliteDb(db_file=db_file)
    return Agent(
        model=FunctionModel(script),
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
