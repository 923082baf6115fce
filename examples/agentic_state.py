"""Agentic session state: the model updates the state itself through ``update_session_state``.

Seed: agent-session-state.kern.txt, "Agentic Session State". The seed's code, unchanged; the model
is OpenAI's (or any OpenAI-compatible server's).

Run it:  OPENAI_API_KEY=sk-... python examples/agentic_state.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
The session is stored in tmp/agents.db.
"""

from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIResponses

agent = Agent(
    db=SqliteDb(db_file="tmp/agents.db"),
    model=OpenAIResponses(id="gpt-5.2"),
    session_state={"shopping_list": []},
    add_session_state_to_context=True,  # Required so the agent is aware of the session state
    enable_agentic_state=True,  # Adds a tool to manage the session state
)

agent.print_response("Add milk, eggs, and bread to the shopping list", stream=True)
print(f"Session state: {agent.get_session_state()}")
