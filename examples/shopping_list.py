"""An Agent keeps a shopping list in its session state, stored in SQLite.

Seed: agent-session-state.kern.txt, "State Management" (the shopping-list example). The seed's code,
unchanged; the model is OpenAI's (or any OpenAI-compatible server's).

Run it:  OPENAI_API_KEY=sk-... python examples/shopping_list.py
(``OPENAI_BASE_URL=http://host/v1`` points it at another OpenAI-compatible server.)
The session is stored in tmp/agents.db.
"""
# ruff: noqa: E501

from kern.agent import Agent
from kern.db.sqlite import SqliteDb
from kern.models.openai import OpenAIResponses
from kern.run import RunContext


# Define a tool that adds an item to the shopping list
def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list."""

    # We access the session state via run_context.session_state
    run_context.session_state["shopping_list"].append(item)

    return f"The shopping list is now {run_context.session_state['shopping_list']}"


# Create an Agent that maintains state
agent = Agent(
    model=OpenAIResponses(id="gpt-5.2"),
    # Database to store sessions and their state
    db=SqliteDb(db_file="tmp/agents.db"),
    # Initialize the session state with an empty shopping list. This will be the default state for all sessions.
    session_state={"shopping_list": []},
    tools=[add_item],
    # You can use variables from the session state in the instructions
    instructions="Current state (shopping list) is: {shopping_list}",
    markdown=True,
)

# Example usage
agent.print_response("Add milk, eggs, and bread to the shopping list", stream=True)
print(f"Final session state: {agent.get_session_state()}")
