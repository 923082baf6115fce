"""Tests for kern.session.patch: state diffs applied to the current stored state, and deep_merge."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kern.exceptions import StorageError, UsageError
from kern.session.codec import TAG, JsonValue, encode_state
from kern.session.patch import PatchOp, apply_patch, deep_merge, diff


def as_json(tree: Mapping[str, JsonValue]) -> str:
    """Canonical JSON text: tells 1, 1.0 and true apart, which == does not."""
    return json.dumps(tree, sort_keys=True)


def tagged_set(*items: JsonValue) -> JsonValue:
    return {TAG: "set", "items": list(items)}


# --- diff ---------------------------------------------------------------------------------------------------


def test_equal_states_diff_to_nothing() -> None:
    """Equal states produce no ops."""
    state: dict[str, JsonValue] = {"a": 1, "b": {"c": [1, 2]}, "s": tagged_set(1)}
    assert diff(state, copy.deepcopy(state)) == []


def test_added_key_is_a_set() -> None:
    """A key only in ``after`` becomes a set op carrying its value."""
    assert diff({}, {"a": {"b": 1}}) == [PatchOp("set", ("a",), {"b": 1})]


def test_removed_key_is_a_del() -> None:
    """A key missing from ``after`` becomes a del op."""
    assert diff({"a": 1, "b": 2}, {"b": 2}) == [PatchOp("del", ("a",))]


def test_change_inside_nested_dicts_targets_the_leaf() -> None:
    """A change deep in plain dicts is one op at the full path, leaving siblings alone."""
    before: dict[str, JsonValue] = {"user": {"prefs": {"theme": "dark", "lang": "en"}}}
    after: dict[str, JsonValue] = {"user": {"prefs": {"theme": "light", "lang": "en"}}}
    assert diff(before, after) == [PatchOp("set", ("user", "prefs", "theme"), "light")]


def test_changed_list_is_replaced_whole() -> None:
    """A list that changed is set whole, not patched element by element."""
    assert diff({"l": [1, 2, 3]}, {"l": [1, 2, 4]}) == [PatchOp("set", ("l",), [1, 2, 4])]


def test_tagged_value_is_replaced_whole() -> None:
    """A tagged value is one value: diff does not descend into it."""
    after: dict[str, JsonValue] = {"s": tagged_set(1, 2)}
    assert diff({"s": tagged_set(1)}, after) == [PatchOp("set", ("s",), after["s"])]


def test_dict_replaced_by_tagged_value_is_replaced_whole() -> None:
    """A plain dict turned into a tagged value is set whole."""
    after: dict[str, JsonValue] = {"d": tagged_set(1)}
    assert diff({"d": {"items": [1]}}, after) == [PatchOp("set", ("d",), after["d"])]


@pytest.mark.parametrize(
    ("old", "new"), [(1, True), (1, 1.0), (0.0, -0.0), ([1], [True]), ({"a": 0}, {"a": False})]
)
def test_change_of_json_type_is_a_change(old: JsonValue, new: JsonValue) -> None:
    """Values that == conflates but JSON tells apart (1, 1.0, true) still produce an op."""
    assert diff({"k": old}, {"k": new}) != []


def test_op_order_is_deletions_then_sets_in_key_order() -> None:
    """Ops list deletions in ``before``'s key order, then sets in ``after``'s key order."""
    before: dict[str, JsonValue] = {"x": 1, "a": 1, "m": 1, "y": 1}
    after: dict[str, JsonValue] = {"z": 2, "m": 2, "b": 2}
    expected = [PatchOp("del", (key,)) for key in before if key not in after]
    expected += [PatchOp("set", (key,), value) for key, value in after.items()]
    assert diff(before, after) == expected


def test_diff_values_are_copies() -> None:
    """Changing ``after`` once diffed does not change the ops."""
    after: dict[str, JsonValue] = {"l": [1]}
    ops = diff({}, after)
    after["l"] = [2]
    assert ops == [PatchOp("set", ("l",), [1])]


# --- apply_patch --------------------------------------------------------------------------------------------


def test_apply_sets_and_deletes() -> None:
    """Set ops write their value and del ops remove their key."""
    ops = [PatchOp("set", ("a", "b"), 2), PatchOp("del", ("c",))]
    assert apply_patch({"a": {"b": 1, "k": 0}, "c": 3}, ops) == {"a": {"b": 2, "k": 0}}


def test_apply_does_not_mutate_target() -> None:
    """The target is unchanged after a patch is applied to it."""
    target: dict[str, JsonValue] = {"a": {"b": {"c": 1}}, "d": [1]}
    snapshot = copy.deepcopy(target)
    apply_patch(target, [PatchOp("set", ("a", "b", "c"), 2), PatchOp("del", ("d",))])
    assert target == snapshot


def test_result_does_not_alias_changed_dicts() -> None:
    """Changing a dict on a patched path of the result leaves the target alone."""
    target: dict[str, JsonValue] = {"a": {"b": {"c": 1}}}
    result = apply_patch(target, [PatchOp("set", ("a", "b", "c"), 2)])
    result_a = result["a"]
    assert isinstance(result_a, dict)
    result_b = result_a["b"]
    assert isinstance(result_b, dict)
    result_b["new"] = 1
    assert target == {"a": {"b": {"c": 1}}}


def test_result_does_not_alias_op_values() -> None:
    """Changing a value in the result leaves the op that set it unchanged."""
    op = PatchOp("set", ("l",), [1])
    result = apply_patch({}, [op])
    result_l = result["l"]
    assert isinstance(result_l, list)
    result_l.append(2)
    assert op.value == [1]


def test_set_creates_missing_parents() -> None:
    """A set under missing keys creates the dicts on its path."""
    assert apply_patch({}, [PatchOp("set", ("a", "b", "c"), 1)]) == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize(
    "parent", [[1, 2], "text", None, tagged_set(1)], ids=["list", "str", "null", "tagged"]
)
def test_set_replaces_a_parent_that_is_not_a_plain_dict(parent: JsonValue) -> None:
    """A set through a list, scalar or tagged value replaces it with a dict."""
    assert apply_patch({"a": parent}, [PatchOp("set", ("a", "b"), 1)]) == {"a": {"b": 1}}


def test_del_of_missing_key_is_a_no_op() -> None:
    """Deleting a key that is not there changes nothing."""
    assert apply_patch({"a": {"b": 1}}, [PatchOp("del", ("a", "x"))]) == {"a": {"b": 1}}


def test_del_under_missing_parent_creates_nothing() -> None:
    """Deleting under a missing parent does not create that parent."""
    assert apply_patch({"a": 1}, [PatchOp("del", ("x", "y"))]) == {"a": 1}


def test_concurrent_changes_to_different_keys_compose() -> None:
    """Two runs' diffs from one snapshot, applied in turn to the current state, keep both runs' changes."""
    start = encode_state({"notes": {"a": 1}, "count": 0})
    run_one = encode_state({"notes": {"a": 1, "b": 2}, "count": 0})
    run_two = encode_state({"notes": {"a": 1}, "count": 5})
    current = apply_patch(apply_patch(start, diff(start, run_one)), diff(start, run_two))
    assert current == encode_state({"notes": {"a": 1, "b": 2}, "count": 5})


# --- PatchOp ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", [PatchOp("set", ("a", "b"), {"c": [1, None]}), PatchOp("del", ("a",))], ids=["set", "del"]
)
def test_op_survives_the_journal(op: PatchOp) -> None:
    """An op written with to_json and json.dumps reads back equal with from_json."""
    assert PatchOp.from_json(json.loads(json.dumps(op.to_json()))) == op


def test_op_json_shape() -> None:
    """to_json gives the journal's {"op", "path", "value"} shape with the path as a list."""
    assert PatchOp("set", ("a", "b"), 1).to_json() == {"op": "set", "path": ["a", "b"], "value": 1}


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"op": "put", "path": ["a"], "value": 1},
        {"op": "set", "path": ["a"]},
        {"op": "set", "path": [], "value": 1},
        {"op": "set", "path": "a", "value": 1},
        {"op": "set", "path": ["a", 1], "value": 1},
        {"op": "del", "path": ["a"], "value": 1},
        {"op": "set", "path": ["a"], "value": 1, "extra": True},
    ],
    ids=lambda data: json.dumps(data),
)
def test_malformed_journal_entry_raises_storage_error(data: JsonValue) -> None:
    """from_json refuses anything that is not an op it wrote."""
    with pytest.raises(StorageError):
        PatchOp.from_json(data)


def test_op_needs_a_path() -> None:
    """An op with an empty path is a usage error."""
    with pytest.raises(UsageError):
        PatchOp("set", (), 1)


def test_del_op_carries_no_value() -> None:
    """A del op with a value is a usage error."""
    with pytest.raises(UsageError):
        PatchOp("del", ("a",), 1)


# --- deep_merge ---------------------------------------------------------------------------------------------


def test_merge_is_recursive_for_dicts() -> None:
    """Nested dicts merge key by key, override winning on shared keys."""
    base: dict[str, object] = {"prefs": {"theme": "dark", "lang": "en"}, "keep": 1}
    override: dict[str, object] = {"prefs": {"theme": "light", "size": 2}}
    expected = {"prefs": {"theme": "light", "lang": "en", "size": 2}, "keep": 1}
    assert deep_merge(base, override) == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [([1, 2], [3]), (1, "one"), ({"a": 1}, [1]), ([1], {"a": 1})],
    ids=["list", "scalar", "d2l", "l2d"],
)
def test_merge_replaces_anything_but_two_dicts(old: object, new: object) -> None:
    """Lists, scalars and dict-versus-non-dict are replaced by the override, not merged."""
    assert deep_merge({"k": old}, {"k": new}) == {"k": new}


def test_merge_leaves_inputs_untouched() -> None:
    """Neither input changes."""
    base: dict[str, object] = {"a": {"b": [1]}, "c": 1}
    override: dict[str, object] = {"a": {"d": {2}}, "c": 2}
    snapshots = copy.deepcopy((base, override))
    deep_merge(base, override)
    assert (base, override) == snapshots


def test_merge_result_shares_no_dict_or_list_with_inputs() -> None:
    """Changing the merged state in place never reaches either input."""
    base: dict[str, object] = {"a": {"b": [1]}, "only_base": {"x": [1]}}
    override: dict[str, object] = {"a": {"c": [2]}, "only_override": [[3]]}
    snapshots = copy.deepcopy((base, override))
    merged = cast("dict[str, Any]", deep_merge(base, override))
    merged["a"]["b"].append(9)
    merged["a"]["c"].append(9)
    merged["only_base"]["x"].append(9)
    merged["only_override"][0].append(9)
    assert (base, override) == snapshots


def test_merge_copies_a_cyclic_input_without_recursing_forever() -> None:
    """A self-referencing dict is copied as a self-referencing copy."""
    loop: dict[str, object] = {}
    loop["self"] = loop
    merged = deep_merge({}, {"loop": loop})
    copied = merged["loop"]
    assert isinstance(copied, dict)
    assert copied["self"] is copied
    assert copied is not loop


# --- properties ---------------------------------------------------------------------------------------------

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.sampled_from([0.0, -0.0, 1.0, 2.5])
    | st.sampled_from("xy")
)
tagged = st.lists(leaves, max_size=2).map(lambda items: {TAG: "set", "items": items})
trees = st.recursive(
    leaves | tagged,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=10,
)
states = st.dictionaries(st.sampled_from("abcd"), trees, max_size=4)


@settings(max_examples=200, deadline=None)
@given(states, states)
def test_applying_the_diff_gives_after(before: dict[str, JsonValue], after: dict[str, JsonValue]) -> None:
    """apply_patch(a, diff(a, b)) equals b, JSON type for JSON type."""
    assert as_json(apply_patch(before, diff(before, after))) == as_json(after)


@settings(max_examples=100, deadline=None)
@given(states, states)
def test_diff_is_empty_exactly_when_states_are_the_same(
    before: dict[str, JsonValue], after: dict[str, JsonValue]
) -> None:
    """diff(a, b) is empty if and only if a and b are the same JSON."""
    assert (diff(before, after) == []) == (as_json(before) == as_json(after))


@settings(max_examples=100, deadline=None)
@given(states, states)
def test_diff_survives_the_journal(before: dict[str, JsonValue], after: dict[str, JsonValue]) -> None:
    """Every op diff produces reads back equal through to_json, json and from_json."""
    ops = diff(before, after)
    assert [PatchOp.from_json(json.loads(json.dumps(op.to_json()))) for op in ops] == ops


def test_a_list_grown_at_its_end_diffs_to_an_append_when_asked() -> None:
    """diff(appends=True) turns a list that only grew into an append of the new items."""
    before: dict[str, JsonValue] = {"items": ["a"], "n": 1}
    after: dict[str, JsonValue] = {"items": ["a", "b", "c"], "n": 1}
    assert diff(before, after, appends=True) == [PatchOp("append", ("items",), ["b", "c"])]
    assert diff(before, after) == [PatchOp("set", ("items",), ["a", "b", "c"])]


def test_a_list_changed_otherwise_is_still_set_whole() -> None:
    """A list whose old items changed is a set even with appends=True."""
    ops = diff({"items": ["a", "b"]}, {"items": ["b", "c", "d"]}, appends=True)
    assert ops == [PatchOp("set", ("items",), ["b", "c", "d"])]


def test_appends_of_two_writers_compose() -> None:
    """Two appends to one list, applied one after the other, keep both writers' items."""
    stored: dict[str, JsonValue] = {"items": ["x"]}
    first = diff({"items": ["x"]}, {"items": ["x", "a"]}, appends=True)
    second = diff({"items": ["x"]}, {"items": ["x", "b"]}, appends=True)
    assert apply_patch(apply_patch(stored, first), second) == {"items": ["x", "a", "b"]}
    assert stored == {"items": ["x"]}


def test_an_append_to_a_key_without_a_list_sets_it() -> None:
    """Appending where no list is stored leaves the appended items there."""
    assert apply_patch({"items": 3}, [PatchOp("append", ("items",), ["a"])]) == {"items": ["a"]}
    assert apply_patch({}, [PatchOp("append", ("items",), ["a"])]) == {"items": ["a"]}


def test_an_append_op_round_trips_through_the_journal_form() -> None:
    """to_json/from_json keep an append op; an append without a list is refused."""
    op = PatchOp("append", ("a", "b"), [1, {"k": "v"}])
    assert PatchOp.from_json(op.to_json()) == op
    with pytest.raises(UsageError):
        PatchOp("append", ("a",), "not a list")
