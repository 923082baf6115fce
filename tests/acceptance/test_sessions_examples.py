"""The examples of sessions-and-history.md, on PostgreSQL, against the loopback OpenAI server.

The Agents of these examples have no model, so they run on the default one (OpenAI's gpt-4o, pointed
at the loopback server by ``OPENAI_BASE_URL``). Each test gets a fresh database (``pg_example_url``),
reads back what the example stored with kern's PostgresDb, and checks what the server was sent.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kern.session.schema import SessionType
from tests.acceptance.conftest import pg_sessions
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.postgres


def conversation(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The (role, text) pairs a request carried."""
    return [(m["role"], m["content"]) for m in request["messages"]]


def test_persistent_session_remembers_the_first_message(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """The second run sends the first exchange to the default model; the session keeps four messages."""
    openai_server.reply("Nice to meet you, Alice!")
    openai_server.reply("Your name is Alice.")
    run = run_example("persistent_sessions.py")
    first, second = openai_server.requests
    assert first["model"] == "gpt-4o"
    assert conversation(second) == [
        ("user", "Hi, my name is Alice"),
        ("assistant", "Nice to meet you, Alice!"),
        ("user", "What's my name?"),
    ]
    session = pg_sessions(pg_example_url)["user_123_session"]
    assert [m.content for m in session.messages][-1] == "Your name is Alice."
    assert len(session.messages) == 4
    assert "Your name is Alice." in run.output


def test_session_id_on_the_run_continues_that_conversation(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """Both runs land in the generated session, the second with the first as history."""
    openai_server.reply("Space is vast.")
    openai_server.reply("It is also very cold.")
    run = run_example("session_ids.py")
    session_id = run.namespace["session_id"]
    assert str(uuid.UUID(session_id)) == session_id
    assert conversation(openai_server.requests[1]) == [
        ("user", "Tell me about space"),
        ("assistant", "Space is vast."),
        ("user", "Tell me more"),
    ]
    sessions = pg_sessions(pg_example_url)
    assert list(sessions) == [session_id]
    assert len(sessions[session_id].runs) == 2


def test_history_in_context_answers_from_the_earlier_turn(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """add_history_to_context sends the earlier turn, so the favourite colour is in the second request."""
    openai_server.reply("Blue is a great color.")
    openai_server.reply("Your favorite color is blue.")
    run = run_example("history_in_context.py")
    assert conversation(openai_server.requests[1]) == [
        ("user", "My favorite color is blue"),
        ("assistant", "Blue is a great color."),
        ("user", "What's my favorite color?"),
    ]
    assert len(pg_sessions(pg_example_url)["chat_session"].messages) == 4
    assert "Your favorite color is blue." in run.output


def test_session_management_gets_lists_renames_and_deletes(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """get_session/get_sessions find the user's session, rename_session names it, delete_session drops it."""
    openai_server.reply("Sure, where shall we start?")
    run = run_example("session_management.py")
    assert "Session: session_123\nMessages: 2\nCreated: " in run.output
    assert "session_123: 2 messages" in run.output
    renamed = run.namespace["updated_session"]
    assert (renamed.session_id, renamed.session_name) == ("session_123", "Product Discussion")
    assert pg_sessions(pg_example_url) == {}


def test_session_filtering_finds_the_session_by_time_and_name(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """get_sessions with start_timestamp and with session_name both find the user's named session."""
    openai_server.reply("Sure, where shall we start?")
    run = run_example("session_filtering.py")
    assert "Last 7 days: ['session_123']" in run.output
    assert "Named 'Product Discussion': ['session_123']" in run.output
    assert pg_sessions(pg_example_url)["session_123"].session_name == "Product Discussion"


def test_agent_session_type_is_automatically_agent(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """An Agent's run stores its session as SessionType.AGENT under the Agent's component id."""
    openai_server.reply("Hello! How can I help?")
    run = run_example("session_types.py")
    session = pg_sessions(pg_example_url)["agent_session"]
    assert session.session_type is SessionType.AGENT
    assert session.component_id == "agent"
    assert "Stored session type: <SessionType.AGENT: 'agent'>" in run.output


def test_async_session_operations_get_list_and_delete(
    openai_server: OpenAIServer, run_example: Any, pg_example_url: str
) -> None:
    """AsyncPostgresDb's awaited get_session, get_sessions and delete_session act on the stored session."""
    openai_server.reply("Hello!")
    run = run_example("async_sessions.py")
    assert "Got: session_123" in run.output
    assert "Listed: ['session_123']" in run.output
    assert "Left: None" in run.output
    assert pg_sessions(pg_example_url) == {}
