"""The ready-to-run agents: the Taskboard demo (``python -m agents.taskboard``) and the shopping list.

The demo runs in fresh processes, as ``make demo`` runs it: twice offline on one SQLite file (the
second run must continue the first one's board), and once with ``KERN_MODEL`` through litellm against
the loopback OpenAI server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.shopping_list import build_shopping_list_agent
from agents.taskboard import (
    DEMO_SESSION_ID,
    DEMO_TURNS,
    DEMO_USER_ID,
    OFFLINE_NOTICE,
    build_taskboard,
    offline_model,
)
from kern.db.sqlite import SqliteDb
from kern.testing import ScriptedModel, tool_call
from tests.acceptance.conftest import REPO
from tests.support.openai_server import OpenAIServer

TASKBOARD_TOOLS = {"add_task", "update_task_status", "list_tasks", "remove_task", "get_summary"}


def run_demo(db_file: Path, **env: str) -> str:
    """Run ``python -m agents.taskboard --db db_file`` in a fresh process; return its output."""
    environ = {k: v for k, v in os.environ.items() if k not in ("KERN_MODEL", "OPENAI_BASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "agents.taskboard", "--db", str(db_file)],
        cwd=REPO,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stored_board(db_file: Path) -> dict[str, Any]:
    """The demo session's state, read back from the SQLite file."""
    with SqliteDb(db_file=db_file) as db:
        session = db.get_session(DEMO_SESSION_ID, user_id=DEMO_USER_ID)
    assert session is not None
    assert session.component_id == "taskboard"
    return session.session_state


@pytest.mark.slow
def test_offline_demo_continues_the_board_when_run_twice(tmp_path: Path) -> None:
    """Two offline runs on one file leave four tasks, ids 1 to 4, with task #1 in progress."""
    db_file = tmp_path / "taskboard.db"
    first = run_demo(db_file)
    assert OFFLINE_NOTICE in first
    assert [t["id"] for t in stored_board(db_file)["tasks"]] == [1, 2]
    second = run_demo(db_file)
    assert "continuing session 'taskboard-demo'" in second
    tasks = stored_board(db_file)["tasks"]
    assert [t["id"] for t in tasks] == [1, 2, 3, 4]
    assert [t["title"] for t in tasks] == ["review the Q2 roadmap", "book dentist appointment"] * 2
    assert [t["status"] for t in tasks] == ["in_progress", "open", "open", "open"]
    assert "Board after turn 5: 4 tasks" in second


@pytest.mark.slow
def test_demo_with_kern_model_drives_the_board_through_litellm(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    """With KERN_MODEL the demo's five turns go to that model, whose tool calls edit the stored board."""
    calls = [
        ("add_task", {"title": "Review the Q2 roadmap", "category": "work"}),
        ("add_task", {"title": "Book dentist appointment", "category": "personal"}),
        ("list_tasks", {}),
        ("update_task_status", {"task_id": 1, "status": "in_progress"}),
        ("get_summary", {}),
    ]
    for call in calls:
        openai_server.reply(tool_calls=[call])
        openai_server.reply(f"Done with {call[0]}.")
    db_file = tmp_path / "taskboard.db"
    output = run_demo(
        db_file,
        KERN_MODEL="openai/gpt-4o-mini",
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_API_KEY="sk-x",
    )
    assert OFFLINE_NOTICE not in output
    assert "model: openai/gpt-4o-mini" in output
    requests = openai_server.requests
    assert {r["model"] for r in requests} == {"gpt-4o-mini"}
    assert [r["messages"][-1]["content"] for r in requests[::2]] == list(DEMO_TURNS)
    assert {t["function"]["name"] for t in requests[0]["tools"]} == TASKBOARD_TOOLS | {"update_session_state"}
    summary_result = requests[-1]["messages"][-1]
    assert summary_result["role"] == "tool"
    assert summary_result["content"].startswith("2 tasks: 1 open, 1 in_progress, 0 done.")
    board = stored_board(db_file)
    assert [(t["id"], t["status"]) for t in board["tasks"]] == [(1, "in_progress"), (2, "open")]
    system = requests[-2]["messages"][0]["content"]  # the last turn's first call sees the board in context
    assert '"status": "in_progress"' in system


def test_taskboard_tools_hide_the_injected_state() -> None:
    """The model sees the five tools and update_session_state, none with a session_state parameter."""
    agent = build_taskboard(model=ScriptedModel())
    definitions = {f.name: f.definition for f in agent.toolbox.functions.values()}
    assert set(definitions) == TASKBOARD_TOOLS | {"update_session_state"}
    for definition in definitions.values():
        assert "session_state" not in json.dumps(definition.parameters)
    add = definitions["add_task"].parameters
    assert add["required"] == ["title"]
    assert add["properties"]["category"]["default"] == "general"


def test_add_task_refuses_an_unknown_category() -> None:
    """add_task answers "Unknown category" for a category not in the state, and adds nothing."""
    model = ScriptedModel(tool_call("add_task", title="water plants", category="garden"), "Sorry.")
    agent = build_taskboard(model=model)
    output = agent.run("add a task: water plants, category: garden")
    assert [t.result for t in output.tools] == ["Unknown category: garden"]
    assert agent.get_session_state()["tasks"] == []


def test_remove_task_takes_the_task_off_the_board() -> None:
    """remove_task deletes the task with that id, and says when there is none."""
    model = ScriptedModel(
        [tool_call("add_task", title="a"), tool_call("add_task", title="b")],
        "Added.",
        [tool_call("remove_task", task_id=1), tool_call("remove_task", task_id=9)],
        "Removed.",
    )
    agent = build_taskboard(model=model)
    agent.run("add a and b")
    output = agent.run("remove task #1 and #9")
    assert [t.result for t in output.tools] == ["Removed task #1", "Task #9 not found"]
    assert [t["title"] for t in agent.get_session_state()["tasks"]] == ["b"]


def test_offline_model_answers_what_it_cannot_do_without_tools() -> None:
    """A message the offline model does not understand gets its help text and no tool call."""
    agent = build_taskboard(model=offline_model())
    output = agent.run("what's the weather?")
    assert output.tools == ()
    assert "add a task" in str(output.content)


def test_shopping_list_agent_manages_the_list(tmp_path: Path) -> None:
    """The shopping-list definition adds, removes and lists items in its stored state."""
    model = ScriptedModel(
        [tool_call("add_item", item="milk"), tool_call("add_item", item="bread")],
        "Added.",
        [tool_call("remove_item", item="Bread"), tool_call("list_items")],
        "Here it is.",
    )
    with SqliteDb(db_file=tmp_path / "list.db") as db:
        agent = build_shopping_list_agent(model=model, db=db)
        agent.run("add milk and bread")
        output = agent.run("I got bread; what's left?")
        assert [t.result for t in output.tools] == [
            "Removed 'bread' from the shopping list",
            "Current shopping list:\n- milk",
        ]
        assert agent.get_session_state() == {"shopping_list": ["milk"]}
    assert "Current shopping list: []" in (model.requests[0].system or "")
