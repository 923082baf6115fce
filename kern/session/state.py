"""The rules of session state (DESIGN.md §4): where a run's state starts from and how updates apply.

Precedence: the state passed to a run beats the stored state, which beats the definition's default (the
default only seeds a session when it is created). Passed state merges into the stored state recursively
(dicts merge, lists and scalars are replaced), or replaces it with ``overwrite_db_session_state``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pydantic_core

from kern.session.patch import deep_merge


def starting_state(
    stored: Mapping[str, Any], passed: Mapping[str, Any] | None, *, overwrite: bool
) -> dict[str, Any]:
    """The state a run starts with; shares no dict or list with either input."""
    if passed is None:
        return deep_merge(stored, {})
    return deep_merge({}, passed) if overwrite else deep_merge(stored, passed)


def apply_updates(state: dict[str, Any], updates: Mapping[str, Any]) -> None:
    """Apply ``updates`` to ``state`` in place: dicts merge key by key, other values replace, None deletes."""
    for key, value in updates.items():
        current = state.get(key)
        if value is None:
            state.pop(key, None)
        elif isinstance(current, dict) and isinstance(value, dict):
            apply_updates(cast("dict[str, Any]", current), cast("dict[str, Any]", value))
        else:
            state[key] = deep_merge({"v": value}, {})["v"]


def to_json_text(value: object, *, indent: int | None = None) -> str:
    """``value`` as JSON for a prompt: dates, sets, models and dataclasses readable, anything else str()."""
    return pydantic_core.to_json(value, indent=indent, fallback=str).decode()
