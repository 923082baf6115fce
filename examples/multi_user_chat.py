"""Multi-user, multi-session chat with user memories: what Mark says in one session is remembered in
the others, and never shown to John.

Seed: sessions-and-history.md, "Complete Example: Multi-User Multi-Session", with the database URL from
``KERN_PG_URL``. The Agent has no model, so it uses the default one (``LiteLLM($KERN_MODEL)`` when that
is set, else OpenAI's gpt-4o, which honours ``OPENAI_BASE_URL``); memories are learnt with it too. The
seed page's e-mail addresses were obfuscated into one identical string, which would make Mark and John
one user; they are two distinct addresses here, as the example means.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/multi_user_chat.py
"""

import asyncio
import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# The seed's snippet.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))

chat_agent = Agent(
    db=db,
    update_memory_on_run=True,
    add_history_to_context=True,
)


async def multi_user_chat():
    # User 1, Session 1
    await chat_agent.aprint_response(
        "My name is Mark and I like anime", user_id="mark@example.com", session_id="mark_session_1"
    )

    # User 1, Session 2 (different conversation)
    await chat_agent.aprint_response(
        "I'm going to the movies tonight", user_id="mark@example.com", session_id="mark_session_2"
    )

    # User 2, Session 1
    await chat_agent.aprint_response(
        "Hi, my name is John", user_id="john@example.com", session_id="john_session_1"
    )

    # Back to User 1, Session 1
    await chat_agent.aprint_response(
        "What do you suggest I do this weekend?",
        user_id="mark@example.com",
        session_id="mark_session_1",  # Remembers Mark likes anime
    )


asyncio.run(multi_user_chat())
