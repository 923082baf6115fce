"""History in context: the previous runs' messages, read from the store, as many runs as asked."""

from __future__ import annotations

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.testing import ScriptedModel


def _contents(messages: object) -> list[tuple[str, str | None]]:
    return [(m.role, m.content) for m in messages]  # type: ignore[attr-defined]


def test_history_carries_previous_runs(agent_db: SyncDb) -> None:
    """The second run's model call sees the first run's exchange before the new message."""
    model = ScriptedModel("Hi Alice", "Your name is Alice")
    agent = Agent(model=model, db=agent_db, add_history_to_context=True)
    agent.run("Hi, my name is Alice")
    agent.run("What's my name?")
    assert _contents(model.requests[1].messages) == [
        ("user", "Hi, my name is Alice"),
        ("assistant", "Hi Alice"),
        ("user", "What's my name?"),
    ]


def test_history_is_limited_to_num_history_runs(agent_db: SyncDb) -> None:
    """Only the last num_history_runs runs are sent."""
    model = ScriptedModel("a1", "a2", "a3", "a4")
    agent = Agent(model=model, db=agent_db, num_history_runs=2)
    for text in ("q1", "q2", "q3", "q4"):
        agent.run(text)
    assert [c for _, c in _contents(model.requests[3].messages)] == ["q2", "a2", "q3", "a3", "q4"]


def test_history_off_sends_only_the_new_message(agent_db: SyncDb) -> None:
    """With add_history_to_context=False the model sees just this run."""
    model = ScriptedModel("a1", "a2")
    agent = Agent(model=model, db=agent_db, add_history_to_context=False)
    agent.run("q1")
    agent.run("q2")
    assert _contents(model.requests[1].messages) == [("user", "q2")]


def test_history_is_read_from_the_store_by_a_new_agent(agent_db: SyncDb) -> None:
    """Another Agent object on the same db and session (another process, say) sees the history."""
    Agent(model=ScriptedModel("noted"), db=agent_db, session_id="s1").run("My favorite color is blue")
    model = ScriptedModel("blue")
    Agent(model=model, db=agent_db, session_id="s1").run("What's my favorite color?")
    assert ("user", "My favorite color is blue") in _contents(model.requests[0].messages)


def test_get_chat_history_returns_the_conversation(agent_db: SyncDb) -> None:
    """get_chat_history lists the session's messages in order."""
    agent = Agent(model=ScriptedModel("a1", "a2"), db=agent_db)
    agent.run("q1")
    agent.run("q2")
    assert _contents(agent.get_chat_history()) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]


def test_messages_holding_a_nul_are_stored_and_read_back(agent_db: SyncDb) -> None:
    """A tool result and an answer with a NUL in them commit on every backend (PostgreSQL's JSONB
    refuses a raw one) and come back as they were."""
    from kern.testing import tool_call

    def raw() -> str:
        """Return bytes decoded as text."""
        return "a\x00b"

    agent = Agent(model=ScriptedModel(tool_call("raw"), "said \x00 here"), db=agent_db, tools=[raw])
    output = agent.run("go")
    assert output.content == "said \x00 here"
    contents = [m.content for m in agent.get_chat_history()]
    assert "a\x00b" in contents
    assert contents[-1] == "said \x00 here"
