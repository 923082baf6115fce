"""``overwrite_db_session_state=True``: the state passed to a run replaces the stored one.

Seed: agent-session-state.kern.txt, "Overwriting the state in the db". The seed's code, unchanged;
the model is OpenAI's (or any OpenAI-compatible server's).

Run it:  OPENAI_API_KEY=sk-... python examples/overwrite_db_state.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
The session is stored in tmp/agents.db.
"""
# ruff: noqa: E501

from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIResponses

# Create an Agent that maintains state
agent = Agent(
    model=OpenAIResponses(id="gpt-5.2"),
    db=SqliteDb(db_file="tmp/agents.db"),
    markdown=True,
    # Set the default session_state. The values set here won't be overwritten - they are the initial state for all sessions.
    session_state={},
    # Adding the session_state to context for the agent to easily access it
    add_session_state_to_context=True,
    # Allow overwriting the stored session state with the session state provided in the run
    overwrite_db_session_state=True,
)

# Let's run the agent providing a session_state. This session_state will be stored in the database.
agent.print_response(
    "Can you tell me what's in your session_state?",
    session_state={"shopping_list": ["Potatoes"]},
    stream=True,
)
print(f"Stored session state: {agent.get_session_state()}")

# Now if we pass a new session_state, it will overwrite the stored session_state.
agent.print_response(
    "Can you tell me what is in your session_state?",
    session_state={"secret_number": 43},
    stream=True,
)
print(f"Stored session state: {agent.get_session_state()}")
