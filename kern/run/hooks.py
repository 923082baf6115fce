"""Pre- and post-hooks: user functions called around a run, given what they ask for by name.

A hook declares the values it wants as parameters: ``run_input``, ``run_output`` (post-hooks),
``run_context``, ``session_state``, ``dependencies``, ``metadata``, ``user_id``, ``session_id``, and the
runnable itself (``agent`` or ``team``). Sync hooks run in a worker thread. A hook that takes the state
runs under the state lock, and what it puts there must be storable. A hook that raises fails the run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from kern._private.calls import call_user
from kern.exceptions import UsageError
from kern.run.active import RunHandle

Hook = Callable[..., Any]

_STATEFUL = frozenset({"session_state", "run_context"})


async def run_hooks(hooks: tuple[Hook, ...], run: RunHandle, values: Mapping[str, object]) -> None:
    """Call each hook in order with the parameters it names, taken from ``values`` and the run."""
    context = run.context
    available: dict[str, object] = {
        "run_context": context,
        "session_state": context.session_state,
        "dependencies": context.dependencies,
        "metadata": context.metadata,
        "user_id": context.user_id,
        "session_id": context.session_id,
        **values,
    }
    for hook in hooks:
        arguments = _arguments(hook, available)
        if _STATEFUL.isdisjoint(arguments):
            await call_user(hook, **arguments)
            continue
        async with context.state_lock:
            try:
                await call_user(hook, **arguments)
            finally:
                run.capture_state()


def _arguments(hook: Hook, available: Mapping[str, object]) -> dict[str, object]:
    arguments: dict[str, object] = {}
    for name, parameter in inspect.signature(hook).parameters.items():
        if name in available:
            arguments[name] = available[name]
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            names = ", ".join(sorted(available))
            raise UsageError(
                f"hook {_name(hook)} asks for {name!r}, which hooks cannot get; they can get: {names}"
            )
    return arguments


def _name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", repr(hook))
