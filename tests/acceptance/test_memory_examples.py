"""The summary and memory examples of sessions-and-history.md, on PostgreSQL, against the loopback server.

Every run's answer, then its summary or memory update, is one scripted reply of the loopback server
(the examples' Agents have no model, so both use the default one, OpenAI's gpt-4o, except where the
example names another). The tests check what the server was sent and what PostgreSQL kept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kern.db.postgres import PostgresDb
from tests.acceptance.conftest import pg_sessions
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.postgres


def system_text(request: dict[str, Any]) -> str:
    """The system message a request carried ('' if none)."""
    return next((m["content"] for m in request["messages"] if m["role"] == "system"), "")


def chat_turns(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The non-system (role, text) pairs a request carried."""
    return [(m["role"], m["content"]) for m in request["messages"] if m["role"] != "system"]


def summary(text: str) -> str:
    """A summary model's answer."""
    return json.dumps({"summary": text, "topics": ["chat"]})


def test_fifty_messages_are_summarized_and_the_prompt_stays_small(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """Each run updates the summary; every later request shows it instead of the earlier turns."""
    for i in range(50):
        openai_server.reply(f"Got message {i}.")
        openai_server.reply(summary(f"The user has sent messages 0 to {i}."))
    run_example("session_summaries.py")
    chat = openai_server.requests[0::2]
    assert len(chat) == 50
    last = chat[-1]
    assert "The user has sent messages 0 to 48." in system_text(last)
    assert chat_turns(last) == [("user", "Message 49")]
    assert max(len(json.dumps(r["messages"])) for r in chat) < 2 * len(json.dumps(chat[1]["messages"]))
    stored = pg_sessions(pg_example_url)["long_conversation"].summary
    assert stored is not None
    assert stored.summary == "The user has sent messages 0 to 49."


def test_a_custom_summary_manager_summarizes_with_its_own_model(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """The summaries go to gpt-4o-mini, the answers to the default gpt-4o; the summary is shown next run."""
    openai_server.reply("Lisbon in May is lovely.")
    openai_server.reply(summary("The user plans a week in Lisbon in May."))
    openai_server.reply("Pack light layers.")
    openai_server.reply(summary("The user plans a week in Lisbon in May and asked what to pack."))
    run = run_example("custom_summary_manager.py")
    models = [r["model"] for r in openai_server.requests]
    assert models == ["gpt-4o", "gpt-4o-mini", "gpt-4o", "gpt-4o-mini"]
    assert "The user plans a week in Lisbon in May." in system_text(openai_server.requests[2])
    assert "Summary: The user plans a week in Lisbon in May and asked what to pack." in run.output


def test_mark_is_remembered_across_sessions_and_john_sees_none_of_it(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """Mark's anime memory reaches his later run; John's run is shown none of Mark's memories."""
    for answer, learnt in [
        ("Nice to meet you, Mark!", ["Mark likes anime"]),
        ("Enjoy the movies!", ["Mark is going to the movies tonight"]),
        ("Hi John!", ["The user's name is John"]),
        ("How about an anime marathon?", []),
    ]:
        openai_server.reply(answer)
        openai_server.reply(json.dumps({"add": learnt}))
    run_example("multi_user_chat.py")
    chat = openai_server.requests[0::2]
    assert "Mark likes anime" in system_text(chat[3])
    assert "Mark likes anime" in system_text(chat[1])
    assert "anime" not in system_text(chat[2])
    with PostgresDb(db_url=pg_example_url) as db:
        marks = [m.memory for m in db.get_user_memories("mark@example.com")]
        johns = [m.memory for m in db.get_user_memories("john@example.com")]
    assert marks == ["Mark likes anime", "Mark is going to the movies tonight"]
    assert johns == ["The user's name is John"]


def test_what_food_do_i_like_is_answered_from_memory_in_a_new_session(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """The new session has no history from chat_session, but its system message carries the memory."""
    openai_server.reply("Margherita is a classic!")
    openai_server.reply(json.dumps({"add": ["The user loves pizza, especially margherita"]}))
    openai_server.reply("You like pizza.")
    openai_server.reply("{}")
    run = run_example("memories_and_history.py")
    second = openai_server.requests[2]
    assert "The user loves pizza, especially margherita" in system_text(second)
    assert chat_turns(second) == [("user", "What food do I like?")]
    assert "You like pizza." in run.output
