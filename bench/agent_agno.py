"""agno's agent worker: ``bench/.venv-agno/bin/python bench/agent_agno.py {construct,...} REPEAT``.

agno ships no fake model, so :class:`ScriptedModel` is a minimal ``agno.models.base.Model`` subclass: it
implements the four abstract invoke methods and the two parse methods, answering instantly with the
shared script (``_agent_common``): a tool call when the last message is the user's, else the text
answer, with token usage as a provider would report it; a subclass overriding :meth:`ScriptedModel.reply`
answers another script (``contention_agno.py``). agno runs the tool loop itself (``Model.response``
parses the tool call, runs the function, sends its result back).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("AGNO_TELEMETRY", "false")  # before agno is imported

from _agent_common import (
    INSTRUCTIONS,
    PROMPT,
    TOOLS,
    Framework,
    Reply,
    main,
    weather_reply,
)
from agno.agent import Agent
from agno.metrics import MessageMetrics
from agno.models.base import Model
from agno.models.message import Message
from agno.models.response import ModelResponse

_ids = itertools.count(1)


@dataclass
class ScriptedModel(Model):
    """Answers at once: a tool call when the last message is the user's, else the text answer."""

    id: str = "scripted"
    name: str = "ScriptedModel"
    provider: str = "bench"

    def reply(self, roles: list[str], user_text: str) -> Reply:
        """The script (a subclass may answer another): the weather tool call, then the answer."""
        return weather_reply(roles, user_text)

    def _answer(self, messages: list[Message]) -> ModelResponse:
        size = sum(len(m.get_content_string()) for m in messages) // 4
        user_text = next((m.get_content_string() for m in reversed(messages) if m.role == "user"), "")
        reply = self.reply([m.role for m in messages], user_text)
        if isinstance(reply, tuple):
            name, arguments = reply
            call = {
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            usage = MessageMetrics(input_tokens=size, output_tokens=5, total_tokens=size + 5)
            return ModelResponse(role="assistant", tool_calls=[call], response_usage=usage)
        usage = MessageMetrics(input_tokens=size, output_tokens=9, total_tokens=size + 9)
        return ModelResponse(role="assistant", content=reply, response_usage=usage)

    def invoke(self, messages: list[Message], **_: Any) -> ModelResponse:
        return self._answer(messages)

    async def ainvoke(self, messages: list[Message], **_: Any) -> ModelResponse:
        return self._answer(messages)

    def invoke_stream(self, messages: list[Message], **_: Any) -> Iterator[ModelResponse]:
        yield self._answer(messages)

    async def ainvoke_stream(self, messages: list[Message], **_: Any) -> AsyncIterator[ModelResponse]:
        yield self._answer(messages)

    def _parse_provider_response(self, response: Any, **_: Any) -> ModelResponse:
        return response

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response


def construct() -> Agent:
    return Agent(model=ScriptedModel(), tools=TOOLS, instructions=INSTRUCTIONS)


def agent(db_file: Path | None = None, history: bool = False) -> Agent:
    db: Any = None
    if db_file is not None:
        from agno.db.sqlite import SqliteDb

        db = SqliteDb(db_file=str(db_file))
    return Agent(
        model=ScriptedModel(),
        tools=TOOLS,
        instructions=INSTRUCTIONS,
        db=db,
        add_history_to_context=history,
        num_history_runs=3,
    )


def run(agent: Agent, session_id: str | None) -> str:
    return str(agent.run(PROMPT, session_id=session_id).content)


async def arun(agent: Agent, session_id: str | None) -> str:
    return str((await agent.arun(PROMPT, session_id=session_id)).content)


if __name__ == "__main__":
    main(Framework(construct=construct, agent=agent, run=run, arun=arun))
