"""Stores for these tests: the same backends as the Agent tests."""

from tests.agent.conftest import agent_db

__all__ = ["agent_db"]
