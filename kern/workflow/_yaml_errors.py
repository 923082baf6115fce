"""Where in a workflow file something is wrong, as one message: ``file:line:col: yaml.path: what``.

The file is composed into PyYAML nodes, which keep their line and column; a pydantic error's ``loc``
(or the builder's) is walked down the nodes to the value it is about, and named as a YAML path
(``steps[2].parallel[0].executor``). An error about a key (an unknown one, the second kind of a step)
points at the key itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kern.exceptions import WorkflowDefinitionError
from kern.workflow._yaml_schema import TAGS, shown

Loc = Sequence[str | int]
"""A location in the file's data: keys and list indexes from the top."""

_EXPECTED = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
}


class Located:
    """The composed document of one file, to turn locations in its data into messages."""

    def __init__(self, filename: str, root: yaml.Node) -> None:
        self.filename = filename
        self.root = root

    def error(self, loc: Loc, message: str, *, key: object = None) -> WorkflowDefinitionError:
        """The error for ``message`` about the value at ``loc`` (or, with ``key``, that key of it)."""
        path, mark = self.find(loc, key)
        where = f"{self.filename}:{mark.line + 1}:{mark.column + 1}"
        return WorkflowDefinitionError(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def duplicate(self, loc: Loc, key_node: yaml.Node) -> WorkflowDefinitionError:
        """The error for a key given twice in the mapping at ``loc``, at its second occurrence."""
        path, _ = self.find(loc)
        mark = key_node.start_mark
        key = str(key_node.value)
        return WorkflowDefinitionError(
            f"{self.filename}:{mark.line + 1}:{mark.column + 1}: {path + _segment(key, first=not path)}: "
            f"the key {key!r} is given twice in one mapping"
        )

    def validation_error(self, exc: ValidationError) -> WorkflowDefinitionError:
        """The one error reported for a failed validation: the first in the file."""
        details = exc.errors(include_url=False)

        def position(detail: ErrorDetails) -> tuple[int, int]:
            _, mark = self.find(detail["loc"], _key(detail))
            return mark.line, mark.column

        first = min(details, key=position)
        return self.error(first["loc"], describe(first), key=_key(first))

    def find(self, loc: Loc, key: object = None) -> tuple[str, yaml.Mark]:
        """The YAML path and position of the deepest node ``loc`` leads to (``key``: that key of it)."""
        node, path = self.root, ""
        for part in loc:
            child = _child(node, part)
            if child is None:
                if isinstance(part, str) and part in TAGS:  # the branch pydantic took, not a key
                    continue
                break
            node, path = child, path + _segment(part, first=not path)
        if key is not None and (key_node := _key_node(node, key)) is not None:
            return path + _segment(str(key), first=not path), key_node.start_mark
        return path, node.start_mark


def describe(detail: ErrorDetails) -> str:
    """A pydantic error as one sentence."""
    context: dict[str, Any] = dict(detail.get("ctx") or {})
    if "message" in context:  # ours (kern.workflow._yaml_schema.error): already a sentence
        return str(context["message"])
    kind, loc = detail["type"], detail["loc"]
    got = shown(detail.get("input"))
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "greater_than"):
        bound = context.get("ge", context.get("gt"))
        return f"must be {'at least' if kind == 'greater_than_equal' else 'more than'} {bound}, got {got}"
    base, _, suffix = kind.rpartition("_")
    if suffix in ("type", "parsing") and base in _EXPECTED:
        return f"expected {_EXPECTED[base]}, got {got}"
    message = detail["msg"]
    if message.startswith("Input should be "):
        return f"expected {message.removeprefix('Input should be ')}, got {got}"
    return message[:1].lower() + message[1:]


def syntax_error(filename: str, exc: yaml.YAMLError) -> WorkflowDefinitionError:
    """A YAML syntax error at its mark."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "cannot be parsed"
        started = exc.context_mark
        context = f" ({exc.context} at line {started.line + 1})" if exc.context and started else ""
        return WorkflowDefinitionError(
            f"{filename}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {problem}{context}"
        )
    return WorkflowDefinitionError(f"{filename}: invalid YAML: {exc}")


def duplicate_key(root: yaml.Node) -> tuple[list[str | int], yaml.Node] | None:
    """The first key that appears twice in one mapping (PyYAML would keep the last silently), or None.

    Returned as the location of the mapping and the second key's node.
    """
    found: list[tuple[list[str | int], yaml.Node]] = []
    visited: set[int] = set()
    pending: list[tuple[list[str | int], yaml.Node]] = [([], root)]
    while pending:
        loc, node = pending.pop()
        if id(node) in visited:  # an alias: already walked
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in keys:
                        found.append((loc, key_node))
                    keys.add(key_node.value)
                    pending.append(([*loc, str(key_node.value)], value_node))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(([*loc, i], child) for i, child in enumerate(node.value))
    if not found:
        return None
    return min(found, key=lambda item: (item[1].start_mark.line, item[1].start_mark.column))


def _key(detail: ErrorDetails) -> object:
    return (detail.get("ctx") or {}).get("key")


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        return next((value for key, value in node.value if _is_key(key, part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _key_node(node: yaml.Node, key: object) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((k for k, _ in node.value if _is_key(k, str(key))), None)
    return None


def _is_key(node: yaml.Node, name: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == name


def _segment(part: str | int, *, first: bool) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    if part.isidentifier():
        return part if first else f".{part}"
    return f"[{part!r}]"
