"""What the YAML fixtures name by import path: step functions, decisions, tools, an Agent, a Team, a Workflow.

``fetch`` fails while ``$KERN_TEST_FETCH_FAILS`` is set (a run that fails, to resume); every function
step counts its calls in the session state, so a test sees which ran.
"""

from __future__ import annotations

import os
from typing import Any

from kern.agent import Agent
from kern.team import Team
from kern.testing import ScriptedModel
from kern.workflow import StepInput, Workflow

FAIL_VARIABLE = "KERN_TEST_FETCH_FAILS"


def _count(session_state: dict[str, Any], name: str) -> None:
    calls = session_state.setdefault("calls", {})
    calls[name] = calls.get(name, 0) + 1


def fetch(step_input: StepInput, session_state: dict[str, Any]) -> str:
    """Adds the input to the items (fails while $KERN_TEST_FETCH_FAILS is set)."""
    _count(session_state, "fetch")
    if os.environ.get(FAIL_VARIABLE):
        raise RuntimeError("the source is down")
    session_state.setdefault("items", []).append(step_input.input)
    return f"fetched {step_input.input}"


def shout(step_input: StepInput, session_state: dict[str, Any]) -> str:
    """The previous step's content in capitals."""
    _count(session_state, "shout")
    return str(step_input.previous_step_content).upper()


def always(step_input: StepInput) -> bool:
    return True


def never(outputs: list[Any]) -> bool:
    return False


def pick_first(step_input: StepInput) -> str:
    return "first"


def lookup(query: str) -> str:
    """Look something up.

    Args:
        query: what to look up.
    """
    return f"found {query}"


class Holder:
    """For an attribute chain: ``yaml_targets:holder.fn``."""

    @staticmethod
    def fn(step_input: StepInput) -> str:
        return "held"


holder = Holder()
NOT_CALLABLE = 3

helper_agent = Agent(name="Helper", model=ScriptedModel("help"))
helper_team = Team(name="Crew", model=ScriptedModel("done"), members=[helper_agent])

workflow = Workflow(name="from-python", steps=[fetch, shout])
"""A Python workflow without ``source``: ``kern workflow`` fills it in as its import path."""


def leave(step_input: StepInput) -> str:
    raise SystemExit(0)


exiting = Workflow(name="exiting", steps=[fetch, leave])
"""A workflow whose second step calls ``sys.exit(0)``."""
