"""The steps that hold steps: a named sequence, parallel branches, a condition, a loop, a router.

They are plain immutable descriptions; kern.workflow._engine runs them. Anything a workflow accepts as
a step (a Step, one of these, an Agent, a Team, a function) is accepted inside them too, and turned into
a :data:`Node` once, when the workflow is built (:func:`as_node`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kern.exceptions import UsageError
from kern.workflow.step import Step


@dataclass(frozen=True, slots=True, init=False)
class Steps:
    """Steps run one after the other, under one name: ``Steps(name="draft", steps=[...])``."""

    name: str
    steps: tuple[Node, ...]
    description: str | None

    def __init__(self, *, name: str, steps: Sequence[Any], description: str | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", nodes_of(steps, f"steps {name!r}"))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, init=False)
class Parallel:
    """Branches run at the same time on the one live state; each commits when it completes.

    The output's content maps each branch's name to its content.
    """

    name: str
    steps: tuple[Node, ...]
    description: str | None

    def __init__(self, *steps: Any, name: str = "parallel", description: str | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", nodes_of(steps, f"parallel {name!r}"))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """``steps`` run only when ``evaluator(step_input)`` is true (a bool may stand for the function).

    The decision is journaled, so a resumed run takes the same branch.
    """

    name: str
    evaluator: Callable[..., Any] | bool
    steps: Sequence[Any]
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", nodes_of(self.steps, f"condition {self.name!r}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Loop:
    """``steps`` run again until ``end_condition(outputs)`` is true or ``max_iterations`` have run.

    ``end_condition`` gets the list of the iteration's StepOutputs; without it the loop runs
    ``max_iterations`` times. Each iteration's decision is journaled.
    """

    name: str
    steps: Sequence[Any]
    end_condition: Callable[..., Any] | None = None
    max_iterations: int = 3
    description: str | None = None

    def __post_init__(self) -> None:
        if self.max_iterations < 1:
            raise UsageError(
                f"loop {self.name!r}: max_iterations must be at least 1, got {self.max_iterations}"
            )
        object.__setattr__(self, "steps", nodes_of(self.steps, f"loop {self.name!r}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Router:
    """``selector(step_input)`` picks which of ``choices`` run (one, or a list run in order).

    The selector returns a choice, its name, or a list of them; the choice is journaled.
    """

    name: str
    selector: Callable[..., Any]
    choices: Sequence[Any]
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", nodes_of(self.choices, f"router {self.name!r}"))

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
        return Step(name=step.name or step.component_id, agent=step)
    if isinstance(step, Team):
        return Step(name=step.name or step.component_id, team=step)
    if callable(step):
        return Step(name=getattr(step, "__name__", type(step).__name__), executor=step)
    raise UsageError(
        "a workflow step must be a Step, Steps, Parallel, Condition, Loop, Router, Agent, Team or "
        f"function; got {step!r}"
    )


def nodes_of(steps: object, where: str) -> tuple[Node, ...]:
    """``steps`` (a list) as nodes; UsageError if there are none or two named siblings share a name.

    A bare Agent, Team or function whose name a sibling already has is numbered (``"<lambda>_2"``).
    """
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise UsageError(f"{where}: steps must be a list, got {steps!r}")
    nodes: list[Node] = []
    seen: set[str] = set()
    for step in cast("Sequence[Any]", steps):
        node = as_node(step)
        if node.name in seen:
            if node is step:
                raise UsageError(f"{where} has two steps named {node.name!r}; step names must differ")
            node = _numbered(node, seen)
        seen.add(node.name)
        nodes.append(node)
    if not nodes:
        raise UsageError(f"{where} has no steps")
    return tuple(nodes)


def _numbered(node: Node, taken: set[str]) -> Node:
    number = 2
    while f"{node.name}_{number}" in taken:
        number += 1
    return dataclasses.replace(node, name=f"{node.name}_{number}")
