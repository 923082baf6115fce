"""User memories: durable facts about a user, kept across sessions (MemoryManager)."""

from kern.memory.manager import MemoryChanges, MemoryManager
from kern.session.schema import UserMemory

__all__ = ["MemoryChanges", "MemoryManager", "UserMemory"]
