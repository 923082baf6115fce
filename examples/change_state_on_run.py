"""Per-run ``session_id``, ``user_id`` and ``session_state``: one Agent serving two users' sessions.

Seed: agent-session-state.kern.txt, "Changing state on run". The seed's code, unchanged; the model is
OpenAI's (or any OpenAI-compatible server's).

Run it:  OPENAI_API_KEY=sk-... python examples/change_state_on_run.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
The sessions are stored in tmp/agents.db.
"""

from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIResponses

agent = Agent(
    db=SqliteDb(db_file="tmp/agents.db"),
    model=OpenAIResponses(id="gpt-5.2"),
    instructions="Users name is {user_name} and age is {age}",
)

# Sets the session state for the session with the id "user_1_session_1"
agent.print_response(
    "What is my name?",
    session_id="user_1_session_1",
    user_id="user_1",
    session_state={"user_name": "John", "age": 30},
)

# Will load the session state from the session with the id "user_1_session_1"
agent.print_response("How old am I?", session_id="user_1_session_1", user_id="user_1")

# Sets the session state for the session with the id "user_2_session_1"
agent.print_response(
    "What is my name?",
    session_id="user_2_session_1",
    user_id="user_2",
    session_state={"user_name": "Jane", "age": 25},
)

# Will load the session state from the session with the id "user_2_session_1"
agent.print_response("How old am I?", session_id="user_2_session_1", user_id="user_2")
