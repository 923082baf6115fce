"""A custom summary manager: summaries written by a model of your choice.

Seed: sessions-and-history.md, "Custom Summary Manager". Not in the snippet: the ``db`` (URL from
``KERN_PG_URL``), two runs to summarize and the print of the stored summary. The summaries use
OpenAI's gpt-4o-mini (``OPENAI_BASE_URL`` points it at any OpenAI-compatible server); the Agent has no
model of its own, so it uses the default one.

Run it (PostgreSQL at the seed's URL, or set KERN_PG_URL):
    OPENAI_API_KEY=sk-... python examples/custom_summary_manager.py
"""

import os

from kern.agent import Agent
from kern.db.postgres import PostgresDb

# Not in the snippet: the database.
db = PostgresDb(db_url=os.environ.get("KERN_PG_URL", "postgresql+psycopg://ai:ai@localhost:5532/ai"))

# The seed's snippet.
from kern.models.openai import OpenAIChat  # noqa: E402 - the seed imports here
from kern.session.summary import SessionSummaryManager  # noqa: E402

summary_manager = SessionSummaryManager(model=OpenAIChat(id="gpt-4o-mini"))

agent = Agent(
    db=db,
    session_id="session_123",
    session_summary_manager=summary_manager,
    add_session_summary_to_context=True,
)

# Not in the snippet: a conversation, and the summary it left.
agent.print_response("I'm planning a week in Lisbon in May")
agent.print_response("What should I pack?")
summary = agent.get_session_summary()
print(f"Summary: {summary.summary if summary else None}")
