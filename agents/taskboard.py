"""Taskboard: a working task list that lives in one session's state, edited through CRUD tools.

From taskboard-session-state.kern.txt. The tools receive the run's live ``session_state`` by injection
(the model never sees that parameter) and their changes persist with the session; the agent also has
``update_session_state`` (``enable_agentic_state``) and sees the board in its system prompt on every
model call (``add_session_state_to_context``).

The demo, ``python -m agents.taskboard [--db PATH] [--session-id ID]`` (``make demo``), plays the guide's
five "See it in action" turns through the real runtime on a SQLite file (default ``tmp/taskboard.db``)
and shows the board after each turn. With ``KERN_MODEL`` set the model is ``LiteLLM($KERN_MODEL)``
(any litellm model id; ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` and the other providers' variables apply);
without it an offline scripted model plays the model's part, calling the same tools a real model would.
The session id and user id are fixed, so a second run continues the board of the first.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from kern.agent import Agent
from kern.db.base import BaseDb
from kern.db.sqlite import SqliteDb
from kern.exceptions import KernError
from kern.models.base import Model
from kern.models.message import Message
from kern.testing import FunctionModel, ModelRequest, ScriptItem, tool_call
from kern.tools import tool

DEFAULT_DB = "tmp/taskboard.db"
DEMO_SESSION_ID = "taskboard-demo"
DEMO_USER_ID = "demo"
OFFLINE_NOTICE = "no KERN_MODEL set: an offline scripted model plays the model's part"

# The guide's "See it in action" turns, without the chat's "@Taskboard" mention.
DEMO_TURNS = (
    "add a task: review the Q2 roadmap, category: work",
    "add a task: book dentist appointment, category: personal",
    "show me my tasks",
    "mark task #1 as in_progress",
    "summarize what I've got open",
)

STATUSES = ("open", "in_progress", "done")

INSTRUCTIONS = [
    "You manage the user's taskboard: the tasks in the session state, each with an id, a title and a "
    "status (open, in_progress or done).",
    "Change the board with the task tools (add_task, update_task_status, remove_task) and read it with "
    "list_tasks and get_summary; answer briefly with what changed.",
]


# --- the tools (add_task and update_task_status exactly as in the guide) -----------------------------


@tool
def add_task(session_state: dict, title: str, category: str = "general") -> str:
    """Add a task to the board."""
    if category not in session_state["categories"]:
        return f"Unknown category: {category}"
    task = {"id": len(session_state["tasks"]) + 1, "title": title, "status": "open"}
    session_state["tasks"].append(task)
    return f"Added task #{task['id']}"


@tool
def update_task_status(session_state: dict, task_id: int, status: str) -> str:
    """Mark a task as open, in_progress, or done."""
    for t in session_state["tasks"]:
        if t["id"] == task_id:
            t["status"] = status
            return f"Task #{task_id} → {status}"
    return f"Task #{task_id} not found"


@tool
def list_tasks(session_state: dict) -> str:
    """List every task on the board with its id and status."""
    if not session_state["tasks"]:
        return "The board is empty."
    return "\n".join(f"#{t['id']} [{t['status']}] {t['title']}" for t in session_state["tasks"])


@tool
def remove_task(session_state: dict, task_id: int) -> str:
    """Remove a task from the board."""
    for t in session_state["tasks"]:
        if t["id"] == task_id:
            session_state["tasks"].remove(t)
            return f"Removed task #{task_id}"
    return f"Task #{task_id} not found"


@tool
def get_summary(session_state: dict) -> str:
    """Summarize the board: how many tasks have each status, and which ones are not done."""
    tasks = session_state["tasks"]
    if not tasks:
        return "The board is empty."
    counts = ", ".join(f"{sum(t['status'] == s for t in tasks)} {s}" for s in STATUSES)
    pending = [f"#{t['id']} {t['title']} ({t['status']})" for t in tasks if t["status"] != "done"]
    return f"{len(tasks)} tasks: {counts}. Not done yet: {'; '.join(pending) or 'nothing'}."


TOOLS = (add_task, update_task_status, list_tasks, remove_task, get_summary)


# --- the agent ---------------------------------------------------------------------------------------


def build_taskboard(
    *,
    db: BaseDb | None = None,
    model: Model | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
) -> Agent:
    """The Taskboard agent; ``model`` defaults to :func:`taskboard_model`."""
    return Agent(
        id="taskboard",
        name="Taskboard",
        model=model or taskboard_model(),
        db=db,
        session_id=session_id,
        user_id=user_id,
        tools=list(TOOLS),
        instructions=INSTRUCTIONS,
        session_state={
            "tasks": [],
            "categories": ["general", "work", "personal"],
        },
        enable_agentic_state=True,  # agent can mutate session_state
        add_session_state_to_context=True,  # state is visible in the prompt
    )


def taskboard_model() -> Model:
    """``LiteLLM($KERN_MODEL)`` when ``KERN_MODEL`` is set, else the offline scripted model."""
    if model_id := os.environ.get("KERN_MODEL"):
        from kern.models.litellm import LiteLLM

        return LiteLLM(id=model_id)
    return offline_model()


def offline_model() -> FunctionModel:
    """A model without a provider: it reads the user's message and calls the tools a real model would."""
    return FunctionModel(offline_policy, id="taskboard-offline")


_ADD = re.compile(r"add (?:a )?task:?\s*(?P<title>.+?)(?:,\s*category:\s*(?P<category>\w+))?\s*$", re.I)
_STATUS = re.compile(r"mark task #?(?P<id>\d+) as (?P<status>\w+)", re.I)
_REMOVE = re.compile(r"(?:remove|delete) task #?(?P<id>\d+)", re.I)
_HELP = (
    "I can add a task (add a task: TITLE, category: work), show your tasks, mark task #N as "
    "open/in_progress/done, remove task #N, or summarize the board."
)


def offline_policy(request: ModelRequest) -> ScriptItem:
    """One model turn: the tool call the user's message asks for, then (given its result) the answer."""
    if request.tool_results:
        return "\n".join(_answer(result) for result in request.tool_results)
    message = (request.last_user_message or "").strip().removeprefix("@Taskboard").strip()
    if match := _ADD.search(message):
        arguments = {"title": match["title"], "category": (match["category"] or "general").lower()}
        return tool_call("add_task", arguments)
    if match := _STATUS.search(message):
        return tool_call("update_task_status", task_id=int(match["id"]), status=match["status"].lower())
    if match := _REMOVE.search(message):
        return tool_call("remove_task", task_id=int(match["id"]))
    if re.search(r"summar|overview|open", message, re.I):
        return tool_call("get_summary")
    if re.search(r"\b(show|list|tasks?|board)\b", message, re.I):
        return tool_call("list_tasks")
    return _HELP


def _answer(result: Message) -> str:
    text = result.content or ""
    if result.name == "list_tasks":
        return f"Here is your board:\n{text}"
    if result.name == "get_summary":
        return f"Here is where things stand: {text}"
    return f"Done: {text}."


# --- the demo ----------------------------------------------------------------------------------------


def board_table(state: dict[str, Any], title: str) -> Table:
    """The board as a rich table."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Task")
    table.add_column("Status")
    style = {"open": "yellow", "in_progress": "cyan", "done": "green"}
    for task in state.get("tasks", []):
        status = str(task.get("status", ""))
        table.add_row(str(task.get("id")), str(task.get("title")), f"[{style.get(status, '')}]{status}[/]")
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Play the guide's five turns on the demo session and show the board after each."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.taskboard", description="The Taskboard agent, five turns on one session."
    )
    parser.add_argument("--db", default=DEFAULT_DB, help=f"the SQLite file (default {DEFAULT_DB})")
    parser.add_argument("--session-id", default=DEMO_SESSION_ID, help=f"default {DEMO_SESSION_ID}")
    args = parser.parse_args(argv)

    console = Console()
    model = taskboard_model()
    if os.environ.get("KERN_MODEL"):
        console.print(f"model: {model.id} (from KERN_MODEL)")
    else:
        console.print(f"{OFFLINE_NOTICE} (set KERN_MODEL=provider/model for a real one)")
    with SqliteDb(db_file=args.db) as db:
        agent = build_taskboard(db=db, model=model, session_id=args.session_id, user_id=DEMO_USER_ID)
        before = agent.get_session_state(user_id=DEMO_USER_ID).get("tasks", [])
        where = f"session {args.session_id!r} of user {DEMO_USER_ID!r} in {args.db}"
        if before:
            console.print(f"continuing {where}: {len(before)} tasks on the board already")
        else:
            console.print(f"new {where}")
        try:
            for number, turn in enumerate(DEMO_TURNS, start=1):
                console.rule(f"turn {number} of {len(DEMO_TURNS)}")
                agent.print_response(turn, stream=True)
                state = agent.get_session_state(user_id=DEMO_USER_ID)
                tasks = state.get("tasks", [])
                console.print(board_table(state, f"Board after turn {number}: {len(tasks)} tasks"))
        except KernError as error:
            console.print(f"[red]the demo stopped: {type(error).__name__}: {error}[/red]")
            raise SystemExit(1) from error
    console.print("Run it again: the next run continues this session's board.")


if __name__ == "__main__":
    main()
