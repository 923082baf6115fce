"""A Team of two Agents sharing one taskboard: a planner adds the tasks, a worker moves them along.

The coordinator (the Team's own model) delegates with ``delegate_task_to_member``; each member runs
as a child run of the team run and acts on the team session's one live ``session_state``, so what
the planner adds is what the worker sees (in its tools, and in its system prompt, with
``add_session_state_to_context``). The tools are the Taskboard agent's (agents/taskboard.py). The
board is printed after each of the two turns; the TeamSession, its state and every run (the
members' as child runs) are stored in tmp/team_taskboard.db.

Run it from the repository root:  OPENAI_API_KEY=sk-... python examples/team_taskboard.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
"""

from agents.taskboard import add_task, get_summary, list_tasks, remove_task, update_task_status
from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIChat
from kern.team import Team

# The planner turns a request into tasks on the board
planner = Agent(
    id="planner",
    model=OpenAIChat(id="gpt-4o-mini"),
    tools=[add_task, list_tasks, remove_task],
    instructions="Break the request into tasks and add them with add_task, in the board's categories.",
    # The board (the team's session state) is in the system prompt on every model call
    add_session_state_to_context=True,
)

# The worker moves tasks through their statuses and reports on the board
worker = Agent(
    id="worker",
    model=OpenAIChat(id="gpt-4o-mini"),
    tools=[update_task_status, list_tasks, get_summary],
    instructions="Move tasks through their statuses with update_task_status and report with get_summary.",
    add_session_state_to_context=True,
)

team = Team(
    id="taskboard-team",
    model=OpenAIChat(id="gpt-4o-mini"),
    members=[planner, worker],
    mode="coordinate",
    instructions=[
        "You run the user's taskboard with your team.",
        "New work goes to the planner; progress and status reports go to the worker.",
    ],
    # The Team's session stores the board every member works on
    db=SqliteDb(db_file="tmp/team_taskboard.db"),
    session_state={"tasks": [], "categories": ["general", "work", "personal"]},
)

team.print_response("Plan my week: review the Q2 roadmap (work) and book the dentist (personal)")
print(f"Board after turn 1: {team.get_session_state()['tasks']}")

team.print_response("Start the roadmap review and tell me what's open")
print(f"Board after turn 2: {team.get_session_state()['tasks']}")
