"""Session state in the instructions: ``{user_name}`` is filled in from the state on every model call.

Seed: agent-session-state.kern.txt, "Using state in instructions". The seed's code, unchanged; the
model is OpenAI's (or any OpenAI-compatible server's).

Run it:  OPENAI_API_KEY=sk-... python examples/state_in_instructions.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
The session is stored in tmp/agents.db.
"""
# ruff: noqa: F401

from textwrap import dedent

from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIResponses

agent = Agent(
    db=SqliteDb(db_file="tmp/agents.db"),
    model=OpenAIResponses(id="gpt-5.2"),
    # Initialize the session state with a variable
    session_state={"user_name": "John"},
    # You can use variables from the session state in the instructions
    instructions="Users name is {user_name}",
    markdown=True,
)

agent.print_response("What is my name?", stream=True)
