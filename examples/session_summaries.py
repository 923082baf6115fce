"""Automatic session summaries: a long conversation is condensed after each run and shown instead of
the history it covers.

Seed: sessions-and-history.md, "Session Summaries" / "Automatic Summaries", with the database URL from
``KERN_PG_URL``. The Agent has no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that
is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``); the summaries use the same model.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/session_summaries.py
"""

import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# The seed's snippet.
agent = Agent(
    db=PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai")),
    session_id="long_conversation",
    enable_session_summaries=True,
    add_session_summary_to_context=True,
)

# After many messages, the agent automatically creates summaries
for i in range(50):
    agent.print_response(f"Message {i}")

# Summary is used instead of full history to save tokens
