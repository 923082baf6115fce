"""Session types: an Agent's session is stored as ``SessionType.AGENT`` without being told.

Seed: sessions-and-history.md, "Session Types". Not in the snippet: the ``db`` (URL from
``KERN_PG_URL``) and the last line, which reads the stored session's type back. The Agent has no
model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that is set, else OpenAI's gpt-4o,
which honours ``OPENAI_BASE_URL``).

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/session_types.py
"""

import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# Not in the snippet: the database.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))

# The seed's snippet.
agent = Agent(
    db=db,
    session_id="agent_session",
)

# Session type is automatically AGENT
agent.print_response("Hello")

# Not in the snippet: read the type back.
print(f"Stored session type: {db.get_session('agent_session').session_type!r}")
