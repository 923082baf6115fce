"""Memories and history together: history continues one conversation, memories outlive it.

Seed: sessions-and-history.md, "Using Both Together". Not in the snippet: the ``db`` (URL from
``KERN_PG_URL``). The Agent has no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that
is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``). The user id is written as the seed page
has it.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/memories_and_history.py
"""

import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# Not in the snippet: the database.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))

# The seed's snippet.
agent = Agent(
    db=db,
    session_id="chat_session",
    add_history_to_context=True,  # Session state
    update_memory_on_run=True,  # User memories
)

# Session state: remembers this conversation
# User memories: extracts "user likes pizza"
agent.print_response("I love pizza, especially margherita", user_id="[email protected]")

# New session - no conversation history
# But memories persist!
agent.print_response(
    "What food do I like?",  # Agent: "You like pizza"
    user_id="[email protected]",
    session_id="new_session",  # Different session
)
