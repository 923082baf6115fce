"""Async session management: ``await db.get_session(...)``, ``get_sessions`` and ``delete_session``.

Seed: sessions-and-history.md, "Async Operations", on ``AsyncPostgresDb``. Not in the snippet: the
``db`` (URL from ``KERN_PG_URL``), one conversation to manage (a sync run on the same database, before
the async part starts; its Agent has no model, so it uses the default one, ``LiteLLM($KERN_MODEL)``
when that is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``), and the prints of what
each call returned. The user id is written as the seed page has it.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/async_sessions.py
"""

import asyncio
import os

from kern.agent import Agent
from kern.db.base import SessionType
from kern.db.postgres import AsyncPostgresDb, PostgresDb

DB_URL = os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai")

# Not in the snippet: a conversation to manage, and the async database.
with PostgresDb(db_url=DB_URL) as setup_db:
    Agent(db=setup_db, session_id="session_123", user_id="[email protected]").print_response("Hello")
db = AsyncPostgresDb(db_url=DB_URL)


# The seed's snippet (plus the prints).
async def manage_sessions():
    # Get session
    session = await db.get_session(session_id="session_123", session_type=SessionType.AGENT)
    print(f"Got: {session.session_id if session else None}")  # not in the snippet

    # Get sessions
    sessions = await db.get_sessions(session_type=SessionType.AGENT, user_id="[email protected]", limit=10)
    print(f"Listed: {[s.session_id for s in sessions]}")  # not in the snippet

    # Delete session
    await db.delete_session(session_id="session_123")
    print(f"Left: {await db.get_session('session_123')}")  # not in the snippet


asyncio.run(manage_sessions())
