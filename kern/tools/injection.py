"""What the runtime injects into a tool call, and which parameters receive it.

A tool asks for the run's objects by parameter name (``session_state``, ``run_context``, ``agent``,
``team``, ``dependencies``) or by annotating any parameter ``RunContext``. These rules live in one place
because two sides depend on them: the schema leaves these parameters out (the model never sees them and
cannot pass them) and the call fills them in from :class:`Injected`.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from kern.session.context import RunContext
from kern.tools.schema import ToolParameter

InjectedKind = Literal["session_state", "run_context", "agent", "team", "dependencies"]
_KINDS: tuple[InjectedKind, ...] = typing.get_args(InjectedKind)
INJECTED_PARAMETERS = frozenset(_KINDS)
STATE_KINDS: frozenset[InjectedKind] = frozenset({"session_state", "run_context"})


@dataclass(frozen=True, slots=True)
class Injected:
    """What the runtime injects into tool calls.

    ``session_state`` is ``run_context.session_state`` (the same live dict object, never a copy) and
    ``dependencies`` is ``run_context.dependencies``.
    """

    run_context: RunContext
    agent: object | None = None
    team: object | None = None

    def value(self, kind: InjectedKind) -> Any:
        """The object a parameter of this kind receives."""
        match kind:
            case "session_state":
                return self.run_context.session_state
            case "run_context":
                return self.run_context
            case "dependencies":
                return self.run_context.dependencies
            case "agent":
                return self.agent
            case "team":
                return self.team


def injection_kind(param: ToolParameter) -> InjectedKind | None:
    """What the runtime injects into ``param``, by name or for a RunContext annotation; None if nothing."""
    for kind in _KINDS:
        if param.name == kind:
            return kind
    return "run_context" if _is_run_context(param.annotation) else None


def _is_run_context(hint: Any) -> bool:
    """True for ``RunContext``, ``RunContext | None`` and ``Annotated[RunContext, ...]``."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _is_run_context(typing.get_args(hint)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_run_context(arg) for arg in typing.get_args(hint))
    return isinstance(hint, type) and issubclass(hint, RunContext)
