"""Filtering sessions: a user's sessions of the last 7 days, and a search by session name.

Seed: sessions-and-history.md, "Session Filtering". Not in the snippet: the ``db`` (URL from
``KERN_PG_URL``), one conversation of the user named "Product Discussion" (as "Rename Session" does),
so the filters have something to find, and the prints of what they found. The Agent has no model, so
it uses the default one (``LiteLLM($KERN_MODEL)`` when that is set, else OpenAI's gpt-4o, which honours
``OPENAI_BASE_URL``). The user id is written as the seed page has it.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/session_filtering.py
"""

import os
from datetime import datetime, timedelta

from kern.agent import Agent
from kern.db.base import SessionType
from kern.db.postgres import PostgresDb

# Not in the snippet: the database, and a named conversation to find.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))
Agent(db=db, session_id="session_123", user_id="[email protected]").print_response(
    "Let's talk about the product roadmap"
)
db.rename_session("session_123", SessionType.AGENT, "Product Discussion", user_id="[email protected]")

# The seed's snippet.
# Get sessions from the last 7 days
start_time = int((datetime.now() - timedelta(days=7)).timestamp())
sessions = db.get_sessions(
    session_type=SessionType.AGENT, user_id="[email protected]", start_timestamp=start_time, limit=20
)
print(f"Last 7 days: {[s.session_id for s in sessions]}")  # not in the snippet

# Search by session name
sessions = db.get_sessions(
    session_type=SessionType.AGENT, session_name="Product Discussion", user_id="[email protected]"
)
print(f"Named 'Product Discussion': {[s.session_id for s in sessions]}")  # not in the snippet
