"""The steps that hold steps: a named sequence, parallel branches, a condition, a loop, a router.

They are plain immutable descriptions; kern.workflow._engine runs them. Anything a workflow accepts as
a step (a Step, one of these, an Agent, a Team, a function) is accepted inside them too, and turned into
a :data:`Node` once, when the workflow is built (:func:`as_node`).

A composite's ``name`` is optional, as in Agno: without one it is named after its kind (``"condition"``,
``"loop"``, ...), numbered among its siblings like a bare function (``"loop_2"``). A derived name
depends only on the definition (the kind and the position), so a run resumed in another process finds
its steps under the same names. ``derived_name`` says which a composite's name is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from kern.exceptions import UsageError
from kern.workflow.step import Step


@dataclass(frozen=True, slots=True, init=False)
class Steps:
    """Steps run one after the other, under one name: ``Steps(name="draft", steps=[...])``."""

    name: str
    steps: tuple[Node, ...]
    description: str | None
    derived_name: bool = field(repr=False, compare=False)

    def __init__(
        self, *, name: str | None = None, steps: Sequence[Any], description: str | None = None
    ) -> None:
        _named(self, name, "steps")
        object.__setattr__(self, "steps", nodes_of(steps, f"steps {self.name!r}"))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, init=False)
class Parallel:
    """Branches run at the same time on the one live state; each commits when it completes.

    The output's content maps each branch's name to its content.
    """

    name: str
    steps: tuple[Node, ...]
    description: str | None
    derived_name: bool = field(repr=False, compare=False)

    def __init__(self, *steps: Any, name: str | None = None, description: str | None = None) -> None:
        _named(self, name, "parallel")
        object.__setattr__(self, "steps", nodes_of(steps, f"parallel {self.name!r}"))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, init=False)
class Condition:
    """``steps`` run only when ``evaluator(step_input)`` is true (a bool may stand for the function).

    The decision is journaled, so a resumed run takes the same branch.
    """

    name: str
    evaluator: Callable[..., Any] | bool
    steps: tuple[Node, ...]
    description: str | None
    derived_name: bool = field(repr=False, compare=False)

    def __init__(
        self,
        *,
        evaluator: Callable[..., Any] | bool,
        steps: Sequence[Any],
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        _named(self, name, "condition")
        object.__setattr__(self, "evaluator", evaluator)
        object.__setattr__(self, "steps", nodes_of(steps, f"condition {self.name!r}"))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, init=False)
class Loop:
    """``steps`` run again until ``end_condition(outputs)`` is true or ``max_iterations`` have run.

    ``end_condition`` gets the list of the iteration's StepOutputs; without it the loop runs
    ``max_iterations`` times. Each iteration's decision is journaled.
    """

    name: str
    steps: tuple[Node, ...]
    end_condition: Callable[..., Any] | None
    max_iterations: int
    description: str | None
    derived_name: bool = field(repr=False, compare=False)

    def __init__(
        self,
        *,
        steps: Sequence[Any],
        end_condition: Callable[..., Any] | None = None,
        max_iterations: int = 3,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        _named(self, name, "loop")
        if max_iterations < 1:
            raise UsageError(f"loop {self.name!r}: max_iterations must be at least 1, got {max_iterations}")
        object.__setattr__(self, "steps", nodes_of(steps, f"loop {self.name!r}"))
        object.__setattr__(self, "end_condition", end_condition)
        object.__setattr__(self, "max_iterations", max_iterations)
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, init=False)
class Router:
    """``selector(step_input)`` picks which of ``choices`` run (one, or a list run in order).

    The selector returns a choice, its name, or a list of them; the choice is journaled.
    """

    name: str
    selector: Callable[..., Any]
    choices: tuple[Node, ...]
    description: str | None
    derived_name: bool = field(repr=False, compare=False)

    def __init__(
        self,
        *,
        selector: Callable[..., Any],
        choices: Sequence[Any],
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        _named(self, name, "router")
        object.__setattr__(self, "selector", selector)
        object.__setattr__(self, "choices", nodes_of(choices, f"router {self.name!r}"))
        object.__setattr__(self, "description", description)

    def choice(self, name: str) -> Node:
        """The choice called ``name``; UsageError naming the choices if there is none."""
        for node in self.choices:
            if node.name == name:
                return node
        known = ", ".join(repr(n.name) for n in self.choices)
        raise UsageError(f"router {self.name!r} has no choice {name!r}; its choices are {known}")


Node = Step | Steps | Parallel | Condition | Loop | Router
"""A step as the engine runs it."""

Composite = Steps | Parallel | Condition | Loop | Router


def children(node: Composite) -> tuple[Node, ...]:
    """The steps a composite holds (a router: its choices)."""
    return tuple(node.choices if isinstance(node, Router) else node.steps)


def as_node(step: Any) -> Node:
    """A Step or composite for anything accepted as a step; UsageError for anything else."""
    from kern.agent import Agent
    from kern.team import Team

    if isinstance(step, Step | Steps | Parallel | Condition | Loop | Router):
        return step
    if isinstance(step, Agent):
        return Step(agent=step)
    if isinstance(step, Team):
        return Step(team=step)
    if callable(step):
        return Step(executor=step)
    raise UsageError(
        "a workflow step must be a Step, Steps, Parallel, Condition, Loop, Router, Agent, Team or "
        f"function; got {step!r}"
    )


def nodes_of(steps: object, where: str) -> tuple[Node, ...]:
    """``steps`` (a list) as nodes; UsageError if there are none or two named siblings share a name.

    A step whose name was not given (a bare Agent, Team or function, a composite without ``name=``)
    keeps its derived name unless a sibling has it, and is numbered then (``"<lambda>_2"``,
    ``"loop_2"``): given names are kept as they are, derived ones are numbered in order around them.
    """
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise UsageError(f"{where}: steps must be a list, got {steps!r}")
    converted = [(as_node(step), step) for step in cast("Sequence[Any]", steps)]
    if not converted:
        raise UsageError(f"{where} has no steps")
    given: set[str] = set()
    for node, step in converted:
        if not _derived(node, step):
            if node.name in given:
                raise UsageError(f"{where} has two steps named {node.name!r}; step names must differ")
            given.add(node.name)
    taken, nodes = set(given), list[Node]()
    for node, step in converted:
        if _derived(node, step):
            if node.name in taken:
                node = _numbered(node, taken)
            taken.add(node.name)
        nodes.append(node)
    return tuple(nodes)


def _named(composite: Composite, name: str | None, kind: str) -> None:
    """Set a new composite's name: ``name`` if given, else its kind (marked derived)."""
    object.__setattr__(composite, "name", kind if name is None else name)
    object.__setattr__(composite, "derived_name", name is None)


def _derived(node: Node, step: object) -> bool:
    """Whether ``node``'s name was derived rather than given (``step`` is what ``node`` was made from)."""
    return node is not step or node.derived_name


def _numbered(node: Node, taken: set[str]) -> Node:
    """A copy of ``node`` named ``<name>_<n>``, the first such name not ``taken``."""
    number = 2
    while f"{node.name}_{number}" in taken:
        number += 1
    renamed = copy.copy(node)
    object.__setattr__(renamed, "name", f"{node.name}_{number}")
    return renamed
