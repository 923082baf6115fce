"""Persistent sessions: with a database and a session id, the agent remembers the conversation.

Seed: sessions-and-history.md, "Persistent Sessions". The seed's code, unchanged except that the
database URL can come from ``KERN_PG_URL``. The Agent has no model, so it uses the default one
(``LiteLLM($KERN_MODEL)`` when that is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``).

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/persistent_sessions.py
Run it twice: the second run continues the stored session "user_123_session".
"""

import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

agent = Agent(
    db=PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai")),
    session_id="user_123_session",
    add_history_to_context=True,
)

# First message
agent.print_response("Hi, my name is Alice")

# Second message - agent remembers the conversation
agent.print_response("What's my name?")  # Response: "Your name is Alice"
