"""What the runtime injects into user code, and which parameters receive it: the one resolver.

Tools, hooks and workflow function steps ask for the run's objects the same way: by parameter name
(``session_state``, ``run_context``, ``agent``, ``team``, ``dependencies``; hooks also ``metadata``,
``user_id``, ``session_id``, ``run_input``, ``run_output``) or by annotating any parameter
``RunContext``. The rule lives here once because several sides depend on it: a tool's schema leaves
these parameters out (the model never sees them and cannot pass them), every call fills them in from
:class:`Injected`, and a call that receives the state runs as a state call (kern.run.state_call).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from kern.session.context import RunContext

InjectedKind = Literal[
    "session_state",
    "run_context",
    "agent",
    "team",
    "dependencies",
    "metadata",
    "user_id",
    "session_id",
    "run_input",
    "run_output",
]
TOOL_KINDS: frozenset[InjectedKind] = frozenset(
    {"session_state", "run_context", "agent", "team", "dependencies"}
)
"""What a tool can receive; any other parameter is an argument the model fills in."""
HOOK_KINDS: frozenset[InjectedKind] = frozenset(typing.get_args(InjectedKind))
"""What a pre- or post-hook can receive (``run_output`` only after the run)."""
STEP_KINDS: frozenset[InjectedKind] = frozenset({"session_state", "run_context", "dependencies"})
"""What a workflow function (a step, a condition, a selector) can receive besides its input."""
STATE_KINDS: frozenset[InjectedKind] = frozenset({"session_state", "run_context"})
"""Receiving one of these makes a call a state call: it holds the state lock, and fails cleanly."""
INJECTED_PARAMETERS = frozenset[str](TOOL_KINDS)
"""The argument names a model may never pass to a tool."""

Plan = Mapping[str, InjectedKind]
"""Parameter name -> what it receives."""


@dataclass(frozen=True, slots=True)
class Injected:
    """What the runtime injects into one call.

    ``session_state`` is ``run_context.session_state`` (the same live dict object, never a copy) and
    ``dependencies`` is ``run_context.dependencies``.
    """

    run_context: RunContext
    agent: object | None = None
    team: object | None = None
    run_input: object = None
    run_output: object = None

    def value(self, kind: InjectedKind) -> Any:
        """The object a parameter of this kind receives."""
        context = self.run_context
        match kind:
            case "session_state":
                return context.session_state
            case "run_context":
                return context
            case "dependencies":
                return context.dependencies
            case "metadata":
                return context.metadata
            case "user_id":
                return context.user_id
            case "session_id":
                return context.session_id
            case "agent":
                return self.agent
            case "team":
                return self.team
            case "run_input":
                return self.run_input
            case "run_output":
                return self.run_output

    def with_context(self, run_context: RunContext) -> Injected:
        """The same injection with another context (a state call's working copy)."""
        return self if run_context is self.run_context else replace(self, run_context=run_context)

    def kwargs(self, plan: Plan) -> dict[str, Any]:
        """The keyword arguments ``plan`` asks for."""
        return {name: self.value(kind) for name, kind in plan.items()}


def injection_kind(name: str, annotation: Any, kinds: frozenset[InjectedKind]) -> InjectedKind | None:
    """What a parameter receives, by its name among ``kinds`` or for a RunContext annotation; None if
    nothing (it is the caller's argument)."""
    if name in kinds:
        return name
    return "run_context" if _is_run_context(annotation) else None


def takes_state(plan: Plan) -> bool:
    """True when a call with this plan receives the session state."""
    return not STATE_KINDS.isdisjoint(plan.values())


def plan_of(fn: Callable[..., Any], kinds: frozenset[InjectedKind], *, skip_first: bool = False) -> Plan:
    """The injected parameters of ``fn`` (inspected once per callable); ``skip_first`` leaves its first
    positional parameter to the caller (a step's input)."""
    try:
        return _cached_plan(fn, kinds, skip_first)
    except TypeError:  # an unhashable callable: inspected each time
        return _cached_plan.__wrapped__(fn, kinds, skip_first)


def missing_arguments(fn: Callable[..., Any], plan: Plan) -> list[str]:
    """The required parameters of ``fn`` that ``plan`` does not fill (a hook asking for the impossible)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.name not in plan
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


@functools.lru_cache(maxsize=2048)
def _cached_plan(fn: Callable[..., Any], kinds: frozenset[InjectedKind], skip_first: bool) -> Plan:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: nothing is injected
        return types.MappingProxyType({})
    if skip_first and parameters and parameters[0].kind in _POSITIONAL:
        parameters = parameters[1:]
    hints = _hints(fn)
    plan: dict[str, InjectedKind] = {}
    for p in parameters:
        if (kind := injection_kind(p.name, hints.get(p.name, p.annotation), kinds)) is not None:
            plan[p.name] = kind
    return types.MappingProxyType(plan)


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn``'s resolved annotations; {} where they cannot be resolved (the names are still used)."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError, AttributeError, SyntaxError):  # unresolvable string annotations
        return {}


def _is_run_context(hint: Any) -> bool:
    """True for ``RunContext``, ``RunContext | None`` and ``Annotated[RunContext, ...]``."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _is_run_context(typing.get_args(hint)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_run_context(arg) for arg in typing.get_args(hint))
    return isinstance(hint, type) and issubclass(hint, RunContext)
