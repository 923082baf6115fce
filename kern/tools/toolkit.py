"""Toolkit: a named group of related tools, with instructions for using them and a way to pick some.

A toolkit bundles tools that belong together (often bound methods sharing a client or configuration) so an
Agent takes them as one item. ``include_tools``/``exclude_tools`` let a user keep part of a toolkit; the
names are checked when the functions are read, not at construction, because a subclass registers its
methods after ``super().__init__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from kern.exceptions import UsageError
from kern.tools.function import Function


class Toolkit:
    """A group of tools; ``instructions`` is text the agent adds to its system message.

    Subclasses register their methods: ``self.register(self.search)`` or
    ``super().__init__(tools=[self.search, self.fetch])``.
    """

    def __init__(
        self,
        name: str = "toolkit",
        tools: Sequence[Callable[..., Any] | Function] = (),
        instructions: str | None = None,
        include_tools: Sequence[str] | None = None,
        exclude_tools: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.instructions = instructions
        self.include_tools = None if include_tools is None else tuple(include_tools)
        self.exclude_tools = () if exclude_tools is None else tuple(exclude_tools)
        self._registry: dict[str, Function] = {}
        for item in tools:
            self.register(item)

    def register(self, fn: Callable[..., Any] | Function, *, name: str | None = None) -> Function:
        """Add a tool (a Function, or a callable made into one named ``name``); returns the Function."""
        if isinstance(fn, Function):
            function = fn if name is None else dataclasses.replace(fn, name=name)
        else:
            function = Function.from_callable(fn, name=name)
        if function.name in self._registry:
            raise UsageError(f"toolkit {self.name!r} already has a tool named {function.name!r}")
        self._registry[function.name] = function
        return function

    @property
    def functions(self) -> tuple[Function, ...]:
        """The registered tools, in registration order, after ``include_tools`` and ``exclude_tools``."""
        self._check_known(self.include_tools or (), "include_tools")
        self._check_known(self.exclude_tools, "exclude_tools")
        return tuple(
            function
            for name, function in self._registry.items()
            if (self.include_tools is None or name in self.include_tools) and name not in self.exclude_tools
        )

    def _check_known(self, names: Sequence[str], option: str) -> None:
        unknown = [name for name in names if name not in self._registry]
        if unknown:
            known = ", ".join(repr(name) for name in self._registry) or "none"
            missing = ", ".join(repr(name) for name in unknown)
            raise UsageError(
                f"toolkit {self.name!r}: {option} names unknown tools {missing}; its tools: {known}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, tools={list(self._registry)!r})"
