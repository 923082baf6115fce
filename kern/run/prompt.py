"""A runnable's system message, rebuilt for every model call from small sections.

Each flag of the definition maps to one section: description and instructions (with ``{key}``
templating from state, dependencies, metadata and the user id), the toolkits' own instructions, the
markdown hint, the structured-output schema, and the current session state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from kern.models.message import Message
from kern.session.context import RunContext
from kern.session.state import to_json_text
from kern.session.template import render


@dataclass(frozen=True, slots=True)
class PromptParts:
    """What the system message is made of; fixed when the Agent is built."""

    description: str | None
    instructions: tuple[str, ...]
    tool_instructions: tuple[str, ...]
    markdown: bool
    output_schema: type[BaseModel] | None
    add_session_state: bool
    add_summary: bool = False
    add_memories: bool = False

    def system_message(self, context: RunContext) -> Message | None:
        """The system message for the next model call, or None when there is nothing to say."""
        sources = _sources(context)
        sections = [
            *([render(self.description, *sources)] if self.description else []),
            *_instructions(self.instructions, sources),
            *self.tool_instructions,
            *(["Use markdown to format your answers."] if self.markdown else []),
            *([_schema_section(self.output_schema)] if self.output_schema else []),
            *([_state_section(context.session_state)] if self.add_session_state else []),
            *(_summary_section(context) if self.add_summary else []),
            *(_memories_section(context) if self.add_memories else []),
        ]
        return Message(role="system", content="\n\n".join(sections)) if sections else None


def _sources(context: RunContext) -> tuple[Mapping[str, object], ...]:
    user = {"user_id": context.user_id} if context.user_id is not None else {}
    return (context.session_state, context.dependencies, context.metadata, user)


def _instructions(instructions: Sequence[str], sources: Sequence[Mapping[str, object]]) -> list[str]:
    rendered = [render(text, *sources) for text in instructions]
    if len(rendered) <= 1:
        return rendered
    return ["\n".join(f"- {text}" for text in rendered)]


def _schema_section(schema: type[BaseModel]) -> str:
    return "Answer with a single JSON object that matches this JSON schema, and nothing else:\n" + json.dumps(
        schema.model_json_schema()
    )


def _state_section(state: Mapping[str, object]) -> str:
    return f"<session_state>\n{to_json_text(state, indent=2)}\n</session_state>"


def _summary_section(context: RunContext) -> list[str]:
    summary = context.session_summary
    if summary is None:
        return []
    topics = f"\nTopics: {', '.join(summary.topics)}" if summary.topics else ""
    tag = "summary_of_earlier_conversation"
    return [f"<{tag}>\n{summary.summary}{topics}\n</{tag}>"]


def _memories_section(context: RunContext) -> list[str]:
    memory = context.memory
    if memory is None or not memory.memories:
        return []
    listed = "\n".join(f"- [{m.memory_id}] {m.memory}" for m in memory.memories)
    return [f"What you know about the user from earlier conversations:\n<memories>\n{listed}\n</memories>"]
