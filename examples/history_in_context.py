"""History in context: earlier turns of the session are sent to the model with each new message.

Seed: sessions-and-history.md, "Adding History to Context". The seed's snippet needs a ``db``; it is
built here first (not part of the snippet), as the page does elsewhere, with the URL from
``KERN_PG_URL``. The Agent has no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that
is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``).

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/history_in_context.py
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
    add_history_to_context=True,  # Default
)

agent.print_response("My favorite color is blue")
agent.print_response("What's my favorite color?")  # Works
