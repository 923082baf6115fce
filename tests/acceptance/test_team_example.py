"""examples/team_taskboard.py, a Team of a planner and a worker on one taskboard, against the loopback server.

The model's side is scripted in the order the runtime asks for it: the coordinator delegates to one
member per turn (members delegated in one turn run concurrently, and their requests would reach the
server in no fixed order), each member calls its tools one at a time, then answers. The tests check
what really happened: the board stored in the TeamSession, the member runs stored as child runs of the
team runs, what the coordinator and the members were sent, and what the example printed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from kern.db.sqlite import SqliteDb
from kern.run import RunStatus
from kern.session.schema import Session, SessionType
from tests.acceptance.conftest import ExampleRun, sqlite_sessions
from tests.support.openai_server import OpenAIServer

DB_FILE = "tmp/team_taskboard.db"
TURNS = (
    "Plan my week: review the Q2 roadmap (work) and book the dentist (personal)",
    "Start the roadmap review and tell me what's open",
)
PLAN = "Add two tasks: review the Q2 roadmap (category work) and book the dentist (category personal)."
REPORT = "Report what is on the board."
START = "Mark task #1 (Review the Q2 roadmap) as in_progress, then report what is still open."
FIRST_ANSWER = "Your week is planned: #1 Review the Q2 roadmap and #2 Book the dentist, both open."
SECOND_ANSWER = "The roadmap review is under way; the dentist is still open."

# How each component's system message starts: its own instructions, or the coordinator's.
SYSTEM_STARTS = {
    "coordinator": "- You run the user's taskboard with your team.",
    "planner": "Break the request into tasks",
    "worker": "Move tasks through their statuses",
}


def delegate(member_id: str, task: str) -> tuple[str, dict[str, Any]]:
    return ("delegate_task_to_member", {"member_id": member_id, "task": task})


def script_two_turns(server: OpenAIServer) -> None:
    """The replies of both turns, in the order the coordinator and its members request them."""
    # Turn 1: the planner adds the two tasks, then the worker reports on the board.
    server.reply(tool_calls=[delegate("planner", PLAN)])
    server.reply(tool_calls=[("add_task", {"title": "Review the Q2 roadmap", "category": "work"})])
    server.reply(tool_calls=[("add_task", {"title": "Book the dentist", "category": "personal"})])
    server.reply("Added #1 Review the Q2 roadmap (work) and #2 Book the dentist (personal).")
    server.reply(tool_calls=[delegate("worker", REPORT)])
    server.reply(tool_calls=[("get_summary", {})])
    server.reply("Two tasks, both open.")
    server.reply(FIRST_ANSWER)
    # Turn 2: the worker starts task #1 and reports what is open.
    server.reply(tool_calls=[delegate("worker", START)])
    server.reply(tool_calls=[("update_task_status", {"task_id": 1, "status": "in_progress"})])
    server.reply(tool_calls=[("get_summary", {})])
    server.reply("Task #1 is in progress; #2 Book the dentist is open.")
    server.reply(SECOND_ANSWER)


@pytest.fixture
def team_run(openai_server: OpenAIServer, run_example: Any) -> ExampleRun:
    """The example, run through both scripted turns; its team's database closed."""
    script_two_turns(openai_server)
    run: ExampleRun = run_example("team_taskboard.py")
    run.namespace["team"].db.close()  # a Team's db is not one the runner closes
    return run


def team_session(example_dir: Path) -> Session:
    """The one session stored in the example's database."""
    sessions = sqlite_sessions(example_dir / DB_FILE)
    assert len(sessions) == 1, sessions
    return next(iter(sessions.values()))


def system_message(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system", request["messages"]
    return first["content"]


def requests_of(server: OpenAIServer, component: str) -> list[dict[str, Any]]:
    """The requests one component (coordinator, planner or worker) sent, in order."""
    start = SYSTEM_STARTS[component]
    return [r for r in server.requests if system_message(r).startswith(start)]


def tool_results(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def printed_boards(output: str) -> list[list[dict[str, Any]]]:
    """The boards printed after each turn ("Board after turn N: [...]")."""
    return [
        ast.literal_eval(line.split(": ", 1)[1]) for line in output.splitlines() if "Board after turn" in line
    ]


# --- the stored board ------------------------------------------------------------------------------


def test_board_stored_in_the_team_session(team_run: ExampleRun, example_dir: Path) -> None:
    """The TeamSession holds the planner's two tasks, task #1 in progress after the worker's turn."""
    session = team_session(example_dir)
    assert session.session_type is SessionType.TEAM
    assert session.component_id == "taskboard-team"
    assert session.session_state == {
        "tasks": [
            {"id": 1, "title": "Review the Q2 roadmap", "status": "in_progress"},
            {"id": 2, "title": "Book the dentist", "status": "open"},
        ],
        "categories": ["general", "work", "personal"],
    }


def test_planner_adds_tasks_in_the_teams_categories(
    team_run: ExampleRun, openai_server: OpenAIServer
) -> None:
    """The planner's add_task calls (work, personal) pass the category check against the team's state."""
    planner = requests_of(openai_server, "planner")
    assert len(planner) == 3
    assert tool_results(planner[-1]) == ["Added task #1", "Added task #2"]
    assert planner[0]["messages"][-1] == {"role": "user", "content": PLAN}


def test_worker_sees_the_planners_tasks(team_run: ExampleRun, openai_server: OpenAIServer) -> None:
    """In the same team run, the worker's prompt and get_summary show the board the planner just filled."""
    first_report = requests_of(openai_server, "worker")[0]
    board = system_message(first_report).split("<session_state>\n", 1)[1].split("\n</session_state>")[0]
    assert [t["title"] for t in json.loads(board)["tasks"]] == ["Review the Q2 roadmap", "Book the dentist"]
    summary = tool_results(requests_of(openai_server, "worker")[1])
    assert summary == [
        "2 tasks: 2 open, 0 in_progress, 0 done. "
        "Not done yet: #1 Review the Q2 roadmap (open); #2 Book the dentist (open)."
    ]


def test_worker_starts_task_one_in_the_second_turn(team_run: ExampleRun, openai_server: OpenAIServer) -> None:
    """The second turn's worker moves task #1 to in_progress, and its summary reads the change."""
    worker = requests_of(openai_server, "worker")
    assert len(worker) == 5
    assert worker[2]["messages"][-1] == {"role": "user", "content": START}
    assert tool_results(worker[3]) == ["Task #1 → in_progress"]
    assert tool_results(worker[4])[-1].startswith("2 tasks: 1 open, 1 in_progress, 0 done.")


# --- the runs ----------------------------------------------------------------------------------------


def test_member_runs_are_child_runs_of_the_team_runs(team_run: ExampleRun, example_dir: Path) -> None:
    """Each turn is a team run; the planner and worker runs are stored under it with their tasks."""
    session_id = team_session(example_dir).session_id
    with SqliteDb(db_file=example_dir / DB_FILE) as db:
        runs = db.get_runs(session_id)
    top = [r for r in runs if r.parent_run_id is None]
    assert [(r.component_id, r.input, r.status) for r in top] == [
        ("taskboard-team", turn, RunStatus.completed) for turn in TURNS
    ]
    children = [(r.parent_run_id, r.component_id, r.input, r.status) for r in runs if r.parent_run_id]
    first, second = (r.run_id for r in top)
    assert sorted(children, key=lambda c: (c[0] != first, c[1])) == [
        (first, "planner", PLAN, RunStatus.completed),
        (first, "worker", REPORT, RunStatus.completed),
        (second, "worker", START, RunStatus.completed),
    ]


# --- what the coordinator was sent ---------------------------------------------------------------------


def test_coordinator_is_offered_the_delegation_tool_only(
    team_run: ExampleRun, openai_server: OpenAIServer
) -> None:
    """The coordinator's one tool is delegate_task_to_member(member_id, task, expected_output?)."""
    [tool] = requests_of(openai_server, "coordinator")[0]["tools"]
    assert tool["function"]["name"] == "delegate_task_to_member"
    parameters = tool["function"]["parameters"]
    assert set(parameters["properties"]) == {"member_id", "task", "expected_output"}
    assert sorted(parameters["required"]) == ["member_id", "task"]


def test_coordinator_system_message_lists_the_members(
    team_run: ExampleRun, openai_server: OpenAIServer
) -> None:
    """The coordinator's system message names both members, each with its instructions as its role."""
    system = system_message(requests_of(openai_server, "coordinator")[0])
    roster = system.split("You lead a team. Its members:\n", 1)[1].split("\n\n", 1)[0]
    assert roster.splitlines() == [
        "- planner: Break the request into tasks and add them with add_task, in the board's categories.",
        "- worker: Move tasks through their statuses with update_task_status and report with get_summary.",
    ]


def test_members_are_offered_their_own_taskboard_tools(
    team_run: ExampleRun, openai_server: OpenAIServer
) -> None:
    """The planner gets add/list/remove, the worker update/list/summary; none shows session_state."""
    offered = {
        member: {t["function"]["name"]: t for t in requests_of(openai_server, member)[0]["tools"]}
        for member in ("planner", "worker")
    }
    assert set(offered["planner"]) == {"add_task", "list_tasks", "remove_task"}
    assert set(offered["worker"]) == {"update_task_status", "list_tasks", "get_summary"}
    assert all("session_state" not in json.dumps(t) for tools in offered.values() for t in tools.values())


def test_every_request_uses_gpt_4o_mini(team_run: ExampleRun, openai_server: OpenAIServer) -> None:
    """All thirteen model calls (coordinator and members) go to gpt-4o-mini."""
    assert len(openai_server.requests) == 13
    assert {r["model"] for r in openai_server.requests} == {"gpt-4o-mini"}


def test_second_turn_coordinator_sees_the_first_turn(
    team_run: ExampleRun, openai_server: OpenAIServer
) -> None:
    """The coordinator's second turn carries the first turn's exchange as history."""
    second_turn = requests_of(openai_server, "coordinator")[3]  # turn 1 took three coordinator calls
    said = [(m["role"], m.get("content")) for m in second_turn["messages"] if m["role"] != "system"]
    assert said[0] == ("user", TURNS[0])
    assert ("assistant", FIRST_ANSWER) in said
    assert said[-1] == ("user", TURNS[1])


# --- what the example printed ------------------------------------------------------------------------


def test_output_shows_the_answers_and_the_board_after_each_turn(team_run: ExampleRun) -> None:
    """The coordinator's answers are printed, then the board after each turn."""
    assert FIRST_ANSWER in team_run.output
    assert SECOND_ANSWER in team_run.output
    assert printed_boards(team_run.output) == [
        [
            {"id": 1, "title": "Review the Q2 roadmap", "status": "open"},
            {"id": 2, "title": "Book the dentist", "status": "open"},
        ],
        [
            {"id": 1, "title": "Review the Q2 roadmap", "status": "in_progress"},
            {"id": 2, "title": "Book the dentist", "status": "open"},
        ],
    ]
