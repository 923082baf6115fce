"""``enable_agentic_memory``: the tool that lets the model manage the user's memories itself."""

from __future__ import annotations

from kern.exceptions import ToolCallError
from kern.memory.manager import MemoryChanges, MemoryUpdate, apply_changes
from kern.session.context import RunContext
from kern.tools import Function


async def update_user_memories(
    run_context: RunContext,
    add: list[str] | None = None,
    update: list[MemoryUpdate] | None = None,
    delete: list[str] | None = None,
) -> str:
    """Change what you remember about the user across conversations.

    Remember durable facts (name, preferences, circumstances), not passing remarks. Rewrite a memory by
    its id when a fact changes instead of adding another; delete memories the user asks you to forget.

    Args:
        add: New facts to remember, one sentence each.
        update: Memories to rewrite, each with the id shown in your instructions and its new text.
        delete: Ids of memories to forget.
    """
    memory = run_context.memory
    if memory is None:
        raise ToolCallError("user memories are not available in this run")
    changes = MemoryChanges(add=add or [], update=update or [], delete=delete or [])
    existing = list(memory.memories)
    applied = await apply_changes(
        memory.store, memory.user_id, existing, changes, component_id=memory.component_id
    )
    memory.memories[:] = await memory.store.memories_of(memory.user_id, limit=memory.limit)
    return f"added {len(applied.add)}, updated {len(applied.update)}, deleted {len(applied.delete)}"


def agentic_memory_tool() -> Function:
    """The ``update_user_memories`` tool (built once per definition)."""
    return Function.from_callable(update_user_memories)
