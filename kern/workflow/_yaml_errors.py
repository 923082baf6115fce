"""Where in a workflow file something is wrong, as one message: ``file:line:col: yaml.path: what``.

The file is composed into PyYAML nodes, which keep their line and column; a pydantic error's ``loc``
(or the builder's) is walked down the nodes to the value it is about, and named as a YAML path
(``steps[2].parallel[0].executor``). An error about a key (an unknown one, the second kind of a step)
points at the key itself.

A workflow file may come from anyone, so it is composed by :class:`BoundedLoader`, which refuses a file
before it can cost much: one whose aliases expand it beyond :data:`MAX_NODES` nodes (a "billion laughs"
of a few hundred bytes otherwise expands to millions of values when validated), or that nests deeper
than :data:`MAX_DEPTH` (otherwise a RecursionError). The loader also reads floats as YAML 1.2 writes
them (``1e3``, ``1.0e308``, ``-.5``), which PyYAML's YAML 1.1 rules leave as strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

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
        return located_error(self.filename, mark, path, message)

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


def located_error(filename: str, mark: yaml.Mark, path: str, message: str) -> WorkflowDefinitionError:
    """``file:line:col: path: message`` (without the path when it is empty: the whole file)."""
    where = f"{filename}:{mark.line + 1}:{mark.column + 1}"
    return WorkflowDefinitionError(f"{where}: {path}: {message}" if path else f"{where}: {message}")


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


# --- reading a file within bounds -------------------------------------------------------------------

MAX_NODES = 50_000
"""The most nodes a file may expand to, each alias counted as the nodes it stands for."""

MAX_DEPTH = 64
"""The most levels of lists and mappings a file may nest, aliases expanded."""

_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
"""A YAML 1.2 float; what the YAML 1.1 rules already read (integers among them) they still read first."""


class Refused(yaml.YAMLError):
    """A file beyond the loader's bounds, at the node where it went beyond them."""

    def __init__(self, path: str, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.path, self.mark, self.message = path, mark, message

    def error(self, filename: str) -> WorkflowDefinitionError:
        """The definition error for the file called ``filename``."""
        return located_error(filename, self.mark, self.path, self.message)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing (with :class:`Refused`) a file that expands or nests too far.

    While composing, each node's size (the nodes it expands to) and height (the levels it nests) are
    kept; an alias counts as its node's size and height, so an alias to an alias to ... is measured as
    what it expands to, and a file is refused at the alias that takes it past a bound, before it is
    expanded anywhere. An alias inside the node it names (a recursive structure) is refused too.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path = ""
        self._depth = 0
        self._nodes = 0
        self._measured: dict[int, tuple[int, int]] = {}  # id(node): (size, height)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        outer = self._path
        event = cast("yaml.Event", self.peek_event())  # pyright: ignore[reportUnknownMemberType]
        if isinstance(index, int):
            self._path += f"[{index}]"
        elif isinstance(index, yaml.ScalarNode):
            self._path += _segment(str(index.value), first=not self._path)
        try:
            if isinstance(event, yaml.AliasEvent):
                return self._alias(parent, index, event)
            if isinstance(event, yaml.CollectionStartEvent):
                self._count(1, 1, event.start_mark)
                self._depth += 1
                try:
                    node = super().compose_node(parent, _index(index))
                finally:
                    self._depth -= 1
            else:
                self._count(1, 0, event.start_mark)
                node = super().compose_node(parent, _index(index))
        finally:
            self._path = outer
        if node is not None:
            self._measured[id(node)] = self._measure(node)
        return node

    def _alias(self, parent: yaml.Node | None, index: object, event: yaml.AliasEvent) -> yaml.Node | None:
        target = self.anchors.get(event.anchor)
        if target is not None:  # an undefined alias is PyYAML's error
            measured = self._measured.get(id(target))
            if measured is None:
                raise Refused(
                    self._path,
                    event.start_mark,
                    f"the alias *{event.anchor} is inside the node it refers to; a workflow file "
                    "cannot hold a recursive structure",
                )
            self._count(*measured, event.start_mark, event.anchor)
        return super().compose_node(parent, _index(index))

    def _count(self, size: int, height: int, mark: yaml.Mark, alias: str | None = None) -> None:
        """Count ``size`` more nodes, nesting ``height`` levels below the current one, or refuse."""
        self._nodes += size
        if self._nodes > MAX_NODES:
            what = (
                f"the file has more than {MAX_NODES} values"
                if alias is None
                else f"the alias *{alias} expands the file past {MAX_NODES} values (an alias counts as "
                "the values it stands for: aliases of aliases are a 'billion laughs')"
            )
            raise Refused(self._path, mark, f"{what}; a workflow file is refused beyond that")
        if self._depth + height > MAX_DEPTH:
            what = (
                "lists and mappings are nested"
                if alias is None
                else f"the alias *{alias}, expanded here, nests lists and mappings"
            )
            raise Refused(
                self._path,
                mark,
                f"{what} more than {MAX_DEPTH} levels deep; a workflow file is refused beyond that",
            )

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        """The size and height of a node just composed, from its children's."""
        if isinstance(node, yaml.SequenceNode):
            inner = [self._measured[id(child)] for child in cast("list[yaml.Node]", node.value)]
        elif isinstance(node, yaml.MappingNode):
            pairs = cast("list[tuple[yaml.Node, yaml.Node]]", node.value)
            inner = [self._measured[id(part)] for pair in pairs for part in pair]
        else:
            return 1, 0
        return 1 + sum(size for size, _ in inner), 1 + max((height for _, height in inner), default=0)


BoundedLoader.add_implicit_resolver(  # pyright: ignore[reportUnknownMemberType]
    "tag:yaml.org,2002:float", _FLOAT, list("-+0123456789.")
)


def _index(index: object) -> int:
    """``index`` as the stub of ``compose_node`` types it (PyYAML also passes a key's node, or None)."""
    return cast("int", index)


def compose(text: str) -> tuple[yaml.Node | None, object]:
    """The file's composed document (None if it is empty) and its data, as ``yaml.safe_load`` reads it.

    The data is read from a second composition: constructing it rewrites the nodes it is made from
    (``<<`` merges are flattened into them), and the nodes must stay as the file has them, for the
    positions of errors and to find a key given twice. Raises :class:`Refused` for a file beyond the
    bounds, another ``yaml.YAMLError`` for bad YAML.
    """
    root = BoundedLoader(text).get_single_node()
    if root is None:
        return None, None
    data = cast("object", yaml.load(text, Loader=BoundedLoader))  # BoundedLoader is a SafeLoader
    return root, data


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
