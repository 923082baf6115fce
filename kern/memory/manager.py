"""User memories: durable facts about a user, learnt from runs and kept across sessions.

After a run, :class:`MemoryManager` shows the model the user's existing memories (with their ids) and
what the user said in the run, and asks which memories to add, rewrite or delete: a fact already known
is updated in place, not stored twice. The changes go to the ``memories`` table under the run's user,
exactly: a run without a user id reads and writes the anonymous owner's memories (NULL in the store),
which no user id reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pydantic

from kern._private.validate import check_instance, check_int, given
from kern.db.store import SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.models.message import Message
from kern.models.structured import ask_json
from kern.session.schema import UserMemory

DEFAULT_MEMORY_PROMPT = (
    "You maintain a list of durable facts about the user (name, preferences, circumstances, plans) that "
    "will help personalise future conversations. You get the current memories with their ids and the "
    "user's newest messages. Add a memory only for a new durable fact; when a fact changes or refines a "
    "memory, update that memory by id instead of adding another; delete memories the user contradicts "
    "or asks to forget. Ignore passing remarks. If nothing is worth remembering, change nothing."
)


DEFAULT_MEMORY_LIMIT = 100
"""How many of the user's newest memories a run loads (and the manager shows the model)."""


class MemoryUpdate(pydantic.BaseModel):
    """A memory rewritten: its id and the new text."""

    id: str
    memory: str


class MemoryChanges(pydantic.BaseModel):
    """The changes the model asks for."""

    add: list[str] = pydantic.Field(default_factory=list[str])
    update: list[MemoryUpdate] = pydantic.Field(default_factory=list[MemoryUpdate])
    delete: list[str] = pydantic.Field(default_factory=list[str])


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryManager:
    """Learns memories from runs. ``model=None``: the model of the Agent/Team it serves."""

    model: Model | None = None
    prompt: str = DEFAULT_MEMORY_PROMPT
    limit: int = DEFAULT_MEMORY_LIMIT
    """How many of the user's newest memories the model sees (and a run's system message shows)."""

    def __post_init__(self) -> None:
        check_instance(self.model, Model, "model", "a Model or None", where="MemoryManager")
        if not isinstance(self.prompt, str) or not self.prompt.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"MemoryManager: prompt must be a non-empty str, got {given(self.prompt)}")
        check_int(self.limit, "limit", minimum=1, where="MemoryManager")

    async def learn(
        self,
        store: SessionStore,
        user_id: str | None,
        messages: Sequence[Message],
        *,
        component_id: str | None,
        fallback_model: Model,
    ) -> MemoryChanges:
        """Update ``user_id``'s memories (None: the anonymous owner's) from what the user said in
        ``messages``; returns what changed."""
        said = "\n".join(f"- {m.content}" for m in messages if m.role == "user" and m.content)
        if not said:
            return MemoryChanges()
        existing = await store.memories_of(user_id, limit=self.limit)
        listed = "\n".join(f"- [{m.memory_id}] {m.memory}" for m in existing) or "(none)"
        request = [
            Message(role="system", content=self.prompt),
            Message(
                role="user", content=f"<memories>\n{listed}\n</memories>\n\n<user_said>\n{said}\n</user_said>"
            ),
        ]
        changes = await ask_json(self.model or fallback_model, request, MemoryChanges)
        return await apply_changes(store, user_id, existing, changes, input=said, component_id=component_id)


async def apply_changes(
    store: SessionStore,
    user_id: str | None,
    existing: Sequence[UserMemory],
    changes: MemoryChanges,
    *,
    input: str | None = None,
    component_id: str | None = None,
) -> MemoryChanges:
    """Apply ``changes`` to exactly ``user_id``'s memories (None: the anonymous owner's); returns those
    applied.

    Updates and deletions of ids the user has no memory under are dropped (a model's invented id never
    reaches another user's memory); an addition whose text a memory already has is dropped too.
    """
    by_id = {m.memory_id: m for m in existing}
    known = {m.memory.strip().casefold() for m in existing}
    applied = MemoryChanges()
    for text in changes.add:
        if text.strip() and text.strip().casefold() not in known:
            await store.upsert_user_memory(
                UserMemory(memory=text.strip(), user_id=user_id, input=input, component_id=component_id)
            )
            known.add(text.strip().casefold())
            applied.add.append(text.strip())
    for update in changes.update:
        if (old := by_id.get(update.id)) is not None and update.memory.strip():
            await store.upsert_user_memory(
                UserMemory(
                    memory=update.memory.strip(),
                    user_id=user_id,
                    memory_id=old.memory_id,
                    topics=old.topics,
                    input=input,
                    component_id=component_id,
                )
            )
            applied.update.append(update)
    for memory_id in changes.delete:
        if memory_id in by_id and await store.delete_memory_of(memory_id, user_id):
            applied.delete.append(memory_id)
    return applied
