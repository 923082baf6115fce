"""Pre- and post-hooks: user functions called around a run, given what they ask for by name.

A hook declares the values it wants as parameters (the rule of kern.tools.injection): ``run_input``,
``run_output`` (post-hooks), ``run_context``, ``session_state``, ``dependencies``, ``metadata``,
``user_id``, ``session_id``, and the runnable itself (``agent`` or ``team``). Sync hooks run in a
worker thread. A hook that takes the state runs as a state call (kern.run.state_call): under the state
lock, and all or nothing. A hook that raises fails the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kern.exceptions import UsageError
from kern.run.active import RunHandle
from kern.run.state_call import call_injected
from kern.tools.injection import HOOK_KINDS, Injected, missing_arguments, plan_of

Hook = Callable[..., Any]


async def run_hooks(hooks: tuple[Hook, ...], run: RunHandle, injected: Injected) -> None:
    """Call each hook in order with the parameters it names, taken from ``injected``."""
    for hook in hooks:
        plan = plan_of(hook, HOOK_KINDS)
        if missing := missing_arguments(hook, plan):
            names = ", ".join(sorted(HOOK_KINDS))
            raise UsageError(
                f"hook {_name(hook)} asks for {missing[0]!r}, which hooks cannot get; they can get: {names}"
            )
        await call_injected(run, hook, (), injected, plan)


def _name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", repr(hook))
