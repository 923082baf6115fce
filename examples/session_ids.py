"""Session ids: a run given ``session_id=`` belongs to that conversation, whatever the Agent's default.

Seed: sessions-and-history.md, "Session IDs". The seed's snippet uses the agent of "Persistent
Sessions", built here first (not part of the snippet); the database URL can come from ``KERN_PG_URL``.
The Agent has no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that is set, else
OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``).

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/session_ids.py
"""

import os
from uuid import uuid4

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# Not in the snippet: the agent, as the seed's "Persistent Sessions" builds it.
agent = Agent(
    db=PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai")),
    session_id="user_123_session",
    add_history_to_context=True,
)

# The seed's snippet.
session_id = str(uuid4())

agent.print_response("Tell me about space", session_id=session_id)

agent.print_response(
    "Tell me more",  # Continues the space conversation
    session_id=session_id,
)
