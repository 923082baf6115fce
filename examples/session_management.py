"""Managing sessions: get one, list a user's, rename one, delete one, with ``SessionType``.

Seed: sessions-and-history.md, "Managing Sessions" (Retrieve Session Data, List All Sessions, Rename
Session, Delete Sessions), its four snippets in order. Not in the snippets: the ``db`` (URL from
``KERN_PG_URL``) and one conversation of the user, so that there is a session to manage; its Agent has
no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that is set, else OpenAI's gpt-4o,
which honours ``OPENAI_BASE_URL``). The user id is written as the seed page has it.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/session_management.py
"""

import os

from kern.agent import Agent
from kern.db.base import SessionType
from kern.db.postgres import PostgresDb

# Not in the snippets: the database, and a conversation to manage.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))
Agent(db=db, session_id="session_123", user_id="[email protected]").print_response(
    "Let's talk about the product roadmap"
)

# Get a specific session
session = db.get_session(
    session_id="session_123", session_type=SessionType.AGENT, user_id="[email protected]"
)

if session:
    print(f"Session: {session.session_id}")
    print(f"Messages: {len(session.messages)}")
    print(f"Created: {session.created_at}")

# Get all sessions for a user
sessions = db.get_sessions(
    session_type=SessionType.AGENT,
    user_id="[email protected]",
    limit=10,
    sort_by="created_at",
    sort_order="desc",
)

for session in sessions:
    print(f"{session.session_id}: {len(session.messages)} messages")

updated_session = db.rename_session(
    session_id="session_123",
    session_type=SessionType.AGENT,
    session_name="Product Discussion",
    user_id="[email protected]",
)

db.delete_session(session_id="session_123", user_id="[email protected]")
