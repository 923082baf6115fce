"""Google-style docstrings read into a tool description and per-argument descriptions.

A user writes a tool as a documented Python function; the model needs the same documentation as the tool's
description and as each argument's ``description`` in the JSON schema. Only what the model can use is kept:
the text before the first section, and the ``Args:`` entries. ``Returns:``, ``Raises:``, ``Example(s):`` and
the other sections are dropped. Parsing is forgiving: a docstring that is not Google style is all
description, and nothing here ever raises.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_ARGS_SECTIONS = frozenset({"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"})
_OTHER_SECTIONS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "example",
        "examples",
        "note",
        "notes",
        "attributes",
        "see also",
        "todo",
        "warning",
        "warnings",
        "references",
    }
)
_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*$")  # at column 0 once the docstring is dedented
_ENTRY = re.compile(r"^\*{0,2}(?P<name>\w+)\s*(?:\([^)]*\))?\s*:\s*(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class Docstring:
    """What a tool's docstring tells the model: the description and each argument's description."""

    description: str = ""
    arguments: dict[str, str] = field(default_factory=dict[str, str])


def parse_docstring(doc: str | None) -> Docstring:
    """Read a Google-style docstring; ``None`` or an empty one gives an empty description."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    first = next((i for i, line in enumerate(lines) if _section_name(line) is not None), len(lines))
    arguments: dict[str, str] = {}
    for name, body in _sections(lines[first:]):
        if name in _ARGS_SECTIONS:
            arguments.update(_entries(body))
    return Docstring(description=_normalise(lines[:first]), arguments=arguments)


def _section_name(line: str) -> str | None:
    """The lower-cased section name if ``line`` is a section header such as ``Args:``."""
    match = _HEADER.match(line)
    if match is None:
        return None
    name = match.group(1).lower()
    return name if name in _ARGS_SECTIONS or name in _OTHER_SECTIONS else None


def _sections(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Each section's name and body lines; ``lines`` starts at a header."""
    name: str | None = None
    body: list[str] = []
    for line in lines:
        header = _section_name(line)
        if header is not None:
            if name is not None:
                yield name, body
            name, body = header, []
        else:
            body.append(line)
    if name is not None:
        yield name, body


def _entries(body: list[str]) -> Iterator[tuple[str, str]]:
    """The ``name: text`` entries of an ``Args:`` section, continuation lines joined to their entry."""
    content = [line for line in body if line.strip()]
    if not content:
        return
    level = min(_indent(line) for line in content)
    name: str | None = None
    text: list[str] = []
    for line in content:
        match = _ENTRY.match(line.strip()) if _indent(line) == level else None
        if match is None:
            text.append(line)
            continue
        if name is not None:
            yield name, _normalise(text)
        name, text = match.group("name"), [match.group("text")]
    if name is not None:
        yield name, _normalise(text)


def _normalise(lines: list[str]) -> str:
    """Paragraphs separated by one blank line, the lines of each paragraph joined with single spaces."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(" ".join(p).split()) for p in paragraphs if p)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
