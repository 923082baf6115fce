"""State diffs, so that a run commits what it changed to the *current* stored state, not its whole copy.

Two runs on one session that each write back the whole state they loaded lose one run's changes. Kern instead
diffs the state a run started from against the state it ended with, and applies the diff to whatever the row
holds at commit time: concurrent writers' changes to different keys compose, and on the same key the last
commit wins.

:func:`diff` and :func:`apply_patch` work on encoded trees (the output of
:func:`~kern.session.codec.encode_state`), so a commit needs no decode. A diff descends only into plain dicts;
a list, a scalar or a tagged value (a set, a tuple, a datetime) is one value, replaced whole when it changed.
Values compare strictly, as JSON does: ``1``, ``1.0`` and ``true`` differ, so a change of type is never lost.

:func:`deep_merge` is the other precedence rule: ``run(session_state=...)`` over the stored state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, cast

from kern.exceptions import StorageError, UsageError
from kern.session.codec import TAG, JsonValue

_OP_FIELDS = frozenset({"op", "path", "value"})


@dataclass(frozen=True, slots=True)
class PatchOp:
    """One change to an encoded state: ``set`` the value at ``path``, ``del`` the key at ``path``, or
    ``append`` the items of ``value`` (a list) to the list at ``path``.

    ``path`` is the chain of dict keys from the state's top level. An op owns its ``value``: :func:`diff`
    copies it out of the state, and :func:`apply_patch` copies it into the result.
    """

    op: Literal["set", "del", "append"]
    path: tuple[str, ...]
    value: JsonValue = None

    def __post_init__(self) -> None:
        if not self.path:
            raise UsageError("a patch op's path names at least one key")
        if self.op == "del" and self.value is not None:
            raise UsageError("a 'del' patch op carries no value")
        if self.op == "append" and type(self.value) is not list:
            raise UsageError("an 'append' patch op carries the list of items to append")

    def to_json(self) -> dict[str, JsonValue]:
        """The op as JSON, for the journal: ``{"op": ..., "path": [...], "value": ...}``."""
        path: list[JsonValue] = [*self.path]
        return {"op": self.op, "path": path, "value": _copy(self.value)}

    @classmethod
    def from_json(cls, data: JsonValue) -> PatchOp:
        """Read back :meth:`to_json`'s output; raises :class:`StorageError` if ``data`` is not an op."""
        path = _journaled_path(data)
        if type(data) is dict and path is not None:
            if data.get("op") == "set" and "value" in data:
                return cls("set", path, _copy(data["value"]))
            if data.get("op") == "del" and data.get("value") is None:
                return cls("del", path)
            if data.get("op") == "append" and type(data.get("value")) is list:
                return cls("append", path, _copy(data["value"]))
        raise StorageError(f"journaled patch op is malformed: {data!r:.200}")


def _journaled_path(data: JsonValue) -> tuple[str, ...] | None:
    if type(data) is not dict or not data.keys() <= _OP_FIELDS:
        return None
    path = data.get("path")
    if type(path) is not list or not path or not all(type(key) is str for key in path):
        return None
    return tuple(cast("list[str]", path))


# --- diff ---------------------------------------------------------------------------------------------------


def diff(
    before: Mapping[str, JsonValue], after: Mapping[str, JsonValue], *, appends: bool = False
) -> list[PatchOp]:
    """The ops that turn ``before`` into ``after``.

    With ``appends``, a list that only grew at its end is an ``append`` of the new items rather than a
    ``set`` of the whole list, so that the change composes with other writers' appends (a workflow's
    parallel branches commit each their own changes this way). The order is deterministic: at each
    level, deletions in ``before``'s key order, then changes in ``after``'s.
    """
    ops: list[PatchOp] = []
    _diff_into(ops, (), before, after, appends)
    return ops


def _diff_into(
    ops: list[PatchOp],
    prefix: tuple[str, ...],
    before: Mapping[str, JsonValue],
    after: Mapping[str, JsonValue],
    appends: bool,
) -> None:
    ops.extend(PatchOp("del", (*prefix, key)) for key in before if key not in after)
    for key, new in after.items():
        if key not in before:
            ops.append(PatchOp("set", (*prefix, key), _copy(new)))
            continue
        old = before[key]
        if _is_plain_dict(old) and _is_plain_dict(new):
            _diff_into(ops, (*prefix, key), old, new, appends)
        elif appends and (added := _appended(old, new)) is not None:
            ops.append(PatchOp("append", (*prefix, key), _copy(added)))
        elif not _same(old, new):
            ops.append(PatchOp("set", (*prefix, key), _copy(new)))


def _appended(old: JsonValue, new: JsonValue) -> list[JsonValue] | None:
    """The items added at the end when ``new`` is the list ``old`` grown, else None."""
    if type(old) is not list or type(new) is not list or len(new) <= len(old):
        return None
    return new[len(old) :] if all(map(_same, old, new[: len(old)])) else None


def _is_plain_dict(value: JsonValue) -> TypeGuard[dict[str, JsonValue]]:
    return type(value) is dict and TAG not in value


def _same(a: JsonValue, b: JsonValue) -> bool:
    """Equality as JSON sees it: unlike ``==``, ``1``, ``1.0``, ``True`` and ``0.0``/``-0.0`` all differ."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(_same(item, b[key]) for key, item in a.items())
    if type(a) is list and type(b) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if type(a) is float and type(b) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


# --- apply --------------------------------------------------------------------------------------------------


def apply_patch(target: Mapping[str, JsonValue], ops: Sequence[PatchOp]) -> dict[str, JsonValue]:
    """Apply ``ops`` to a copy of ``target``.

    ``set`` creates missing parent dicts, replacing a parent that is not a plain dict; ``del`` of a missing
    key is a no-op; ``append`` to a key that holds no list sets it to the appended items. ``target`` is
    not modified. Each dict on the path of an op is copied, so changing the result never reaches
    ``target``; subtrees that no op touches are shared with it, not copied.
    """
    result = dict(target)
    owned: dict[int, dict[str, JsonValue]] = {id(result): result}  # the dicts this call made, safe to change
    for op in ops:
        parent = _writable_parent(result, op, owned)
        if parent is None:
            continue
        key = op.path[-1]
        if op.op == "set":
            parent[key] = _copy(op.value)
        elif op.op == "append":
            existing = parent.get(key)
            items = cast("list[JsonValue]", _copy(op.value))
            parent[key] = [*cast("list[JsonValue]", existing), *items] if type(existing) is list else items
        else:
            parent.pop(key, None)
    return result


def _writable_parent(
    root: dict[str, JsonValue], op: PatchOp, owned: dict[int, dict[str, JsonValue]]
) -> dict[str, JsonValue] | None:
    """The dict that holds ``op``'s last key, copied on first write; None when a ``del`` finds no parent."""
    node = root
    for key in op.path[:-1]:
        child = node.get(key)
        if _is_plain_dict(child) and owned.get(id(child)) is child:
            node = child
            continue
        if not _is_plain_dict(child) and op.op == "del":
            return None
        fresh: dict[str, JsonValue] = dict(child) if _is_plain_dict(child) else {}
        node[key] = owned[id(fresh)] = fresh
        node = fresh
    return node


def _copy(value: JsonValue) -> JsonValue:
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


# --- merge --------------------------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, object], override: Mapping[str, object]) -> dict[str, object]:
    """``base`` overlaid with ``override``: where both hold a dict they merge, otherwise ``override`` wins.

    Lists and scalars are replaced, not merged. Neither input is modified, and the result shares no dict or
    list with them (nested ones included), so a run that changes its state in place cannot reach the caller's
    dict or the stored copy.
    """
    return _merge(base, override, {})


def _merge(
    base: Mapping[Any, object], override: Mapping[Any, object], memo: dict[int, object]
) -> dict[Any, object]:
    merged: dict[Any, object] = {}
    for key, value in base.items():
        if key not in override:
            merged[key] = _fresh(value, memo)
        elif isinstance(value, dict) and isinstance(override[key], dict):
            merged[key] = _merge(
                cast("dict[Any, object]", value), cast("dict[Any, object]", override[key]), memo
            )
        else:
            merged[key] = _fresh(override[key], memo)
    for key, value in override.items():
        if key not in base:
            merged[key] = _fresh(value, memo)
    return merged


def _fresh(value: object, memo: dict[int, object]) -> object:
    """``value`` with every dict and list in it copied; ``memo`` keeps shared and cyclic references intact."""
    if type(value) is dict:
        return _fresh_dict(cast("dict[object, object]", value), memo)
    if type(value) is list:
        return _fresh_list(cast("list[object]", value), memo)
    return value


def _fresh_dict(value: dict[object, object], memo: dict[int, object]) -> object:
    if id(value) in memo:
        return memo[id(value)]
    copy: dict[object, object] = {}
    memo[id(value)] = copy
    copy.update((key, _fresh(item, memo)) for key, item in value.items())
    return copy


def _fresh_list(value: list[object], memo: dict[int, object]) -> object:
    if id(value) in memo:
        return memo[id(value)]
    copy: list[object] = []
    memo[id(value)] = copy
    copy.extend(_fresh(item, memo) for item in value)
    return copy


__all__ = ["PatchOp", "apply_patch", "deep_merge", "diff"]
