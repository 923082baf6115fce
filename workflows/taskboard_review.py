"""Taskboard review, a workflow defined in Python: a list of tasks in, a started board out.

``intake`` puts each line of the input on the board (the Taskboard agent's ``add_task``; a trailing
``(work)`` names the category); when there are open tasks, the ``reviewer`` agent sees the board and
starts the most urgent one with ``update_task_status``; ``summary`` is the board's summary, the
workflow's output. The board lives in the workflow's session, so a second run on the same session adds
to it.

    kern workflow run workflows.taskboard_review:workflow \\
        --input $'Fix the login bug (work)\\nBook the dentist'
"""

from __future__ import annotations

import re
from typing import Any

from agents.taskboard import add_task, get_summary, list_tasks, update_task_status
from kern.agent import Agent
from kern.models.litellm import LiteLLM
from kern.workflow import Condition, Step, StepInput, Workflow

CATEGORIES = ["general", "work", "personal"]


def intake(step_input: StepInput, session_state: dict[str, Any]) -> str:
    """Each non-empty line of the input becomes an open task; what was added."""
    added: list[str] = []
    for line in step_input.input.splitlines():
        title = re.sub(r"^\s*(?:[-*]|\d+[.)])?\s*", "", line).strip()
        if not title:
            continue
        category = "general"
        if (named := re.fullmatch(r"(.*?)\s*\((\w+)\)", title)) and named.group(2) in CATEGORIES:
            title, category = named.group(1), named.group(2)
        added.append(f"{add_task(session_state, title, category)}: {title} ({category})")
    return "\n".join(added) or "Nothing to add."


def has_open_tasks(step_input: StepInput, session_state: dict[str, Any]) -> bool:
    """Whether any task on the board is still open."""
    return any(task["status"] == "open" for task in session_state["tasks"])


def summary(step_input: StepInput, session_state: dict[str, Any]) -> str:
    """The board's summary."""
    return get_summary(session_state)


reviewer = Agent(
    name="Reviewer",
    model=LiteLLM(id="openai/gpt-4o-mini"),
    tools=[list_tasks, update_task_status],
    instructions=[
        "You review the user's taskboard (in the session state) right after new tasks were added.",
        "Pick the single most urgent open task, mark it in_progress with update_task_status, and say in "
        "one sentence why it comes first.",
    ],
    add_session_state_to_context=True,
)

workflow = Workflow(
    name="taskboard-review",
    description="Put a list of tasks on the board and start the most urgent one.",
    session_state={"tasks": [], "categories": CATEGORIES},
    steps=[
        Step(name="intake", executor=intake),
        Condition(name="review", evaluator=has_open_tasks, steps=[Step(name="start", agent=reviewer)]),
        Step(name="summary", executor=summary),
    ],
    source="workflows.taskboard_review:workflow",
)
