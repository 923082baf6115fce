"""The state precedence and update rules of DESIGN.md §4."""

from __future__ import annotations

from typing import Any

from kern.session.state import apply_updates, starting_state


def test_stored_state_is_used_when_nothing_is_passed() -> None:
    """Without passed state the run starts from a copy of the stored state."""
    stored = {"a": [1]}
    state = starting_state(stored, None, overwrite=False)
    state["a"].append(2)
    assert stored == {"a": [1]}


def test_passed_state_merges_recursively() -> None:
    """Dicts merge key by key; lists and scalars are replaced."""
    stored = {"d": {"x": 1, "y": 2}, "l": [1], "s": "old"}
    assert starting_state(stored, {"d": {"y": 3}, "l": [2], "s": "new"}, overwrite=False) == {
        "d": {"x": 1, "y": 3},
        "l": [2],
        "s": "new",
    }


def test_overwrite_replaces_the_stored_state() -> None:
    """With overwrite the passed state is the whole state."""
    assert starting_state({"a": 1}, {"b": 2}, overwrite=True) == {"b": 2}


def test_passed_state_is_not_shared_with_the_run() -> None:
    """Changing the run's state never reaches the caller's dict."""
    passed: dict[str, Any] = {"l": [1]}
    state = starting_state({}, passed, overwrite=False)
    state["l"].append(2)
    assert passed == {"l": [1]}


def test_updates_merge_replace_and_delete_in_place() -> None:
    """apply_updates merges dicts, replaces other values, deletes keys set to None."""
    state: dict[str, Any] = {"d": {"x": 1, "y": 2}, "l": [1], "gone": 1}
    nested = state["d"]
    apply_updates(state, {"d": {"y": None, "z": 3}, "l": [2], "gone": None, "new": "v"})
    assert state == {"d": {"x": 1, "z": 3}, "l": [2], "new": "v"}
    assert state["d"] is nested


def test_updates_do_not_share_the_callers_values() -> None:
    """A list given as an update is copied, not aliased."""
    state: dict[str, Any] = {}
    value = [1]
    apply_updates(state, {"l": value})
    value.append(2)
    assert state == {"l": [1]}
