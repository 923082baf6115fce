"""The ``update_session_state`` tool that ``enable_agentic_state=True`` gives a model."""

from __future__ import annotations

import functools
from typing import Any

from kern.session.state import apply_updates, to_json_text
from kern.tools import Function


def update_session_state(session_state: dict[str, Any], updates: dict[str, Any]) -> str:
    """Change the session state, the data this conversation keeps between turns.

    The updates are merged into the current state: where both hold an object the keys merge one by one,
    any other value (list, string, number) replaces the old one whole, and a key set to null is deleted.
    To change one item of a list, send the whole new list. Returns the complete state after the update.

    Args:
        updates: The keys to set, replace or (with null) delete, e.g. {"tasks": [...], "draft": null}.
    """
    apply_updates(session_state, updates)
    return f"Session state updated. It is now: {to_json_text(session_state)}"


@functools.cache
def agentic_state_tool() -> Function:
    """The tool, ready to offer to a model (built once: a Function is immutable and shareable)."""
    return Function.from_callable(update_session_state)
