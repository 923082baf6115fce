"""When a run fails: model errors, retries, structured output, ownership; nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import (
    ModelOutputError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
    SessionOwnershipError,
)
from kern.run import RunError, RunStatus
from kern.session.schema import SessionType
from kern.testing import ScriptedModel, ScriptExhaustedError, tool_call


def add_item(session_state: dict[str, Any], item: str) -> str:
    """Add an item."""
    session_state.setdefault("items", []).append(item)
    return "ok"


def test_model_error_mid_run_saves_partial_state_and_the_run(agent_db: SyncDb) -> None:
    """A model failing after a tool ran raises, and the run is stored as error with the tool's state."""
    model = ScriptedModel(tool_call("add_item", item="milk"), ModelRequestError("context too long"))
    agent = Agent(model=model, db=agent_db, tools=[add_item])
    with pytest.raises(ModelRequestError, match="context too long"):
        agent.run("add milk")
    assert agent.get_session_state() == {"items": ["milk"]}
    session = agent_db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    (run,) = session.runs
    assert run.status is RunStatus.error
    assert "context too long" in (run.error or "")
    assert [m.role for m in session.messages] == ["user", "assistant", "tool"]


def test_retryable_errors_are_retried() -> None:
    """A rate limit and a server error are retried when the Agent allows retries."""
    model = ScriptedModel(ModelRateLimitError("slow down"), ModelServerError("boom"), "finally")
    output = Agent(model=model, retries=2).run("hi")
    assert output.content == "finally"
    assert len(model.requests) == 3


def test_retries_run_out() -> None:
    """After the allowed retries the error propagates."""
    model = ScriptedModel(ModelServerError("boom"), ModelServerError("boom again"))
    with pytest.raises(ModelServerError, match="boom again"):
        Agent(model=model, retries=1).run("hi")


def test_non_retryable_errors_are_not_retried() -> None:
    """A refused request fails at once."""
    model = ScriptedModel(ModelRequestError("bad request"), "never")
    with pytest.raises(ModelRequestError):
        Agent(model=model, retries=3).run("hi")
    assert model.remaining == 1


@pytest.mark.anyio
async def test_stream_reports_the_error_then_raises() -> None:
    """A streamed run that fails yields a RunError event, then raises the error itself."""
    agent = Agent(model=ScriptedModel(ModelRequestError("nope")))
    seen: list[object] = []

    async def consume() -> None:
        async for event in agent.arun("hi", stream=True):
            seen.append(event)

    with pytest.raises(ModelRequestError):
        await consume()
    assert isinstance(seen[-1], RunError)
    assert "nope" in seen[-1].error


def test_exhausted_script_names_the_request() -> None:
    """A ScriptedModel with no reply left fails the run saying so."""
    with pytest.raises(ScriptExhaustedError, match="no reply left"):
        Agent(model=ScriptedModel()).run("hi")


class Answer(BaseModel):
    city: str
    population: int


def test_output_schema_parses_the_answer(agent_db: SyncDb) -> None:
    """With output_schema the content is an instance of it, and the stored output is its JSON."""
    model = ScriptedModel('```json\n{"city": "Paris", "population": 2100000}\n```')
    agent = Agent(model=model, db=agent_db, output_schema=Answer)
    output = agent.run("biggest city?")
    assert output.content == Answer(city="Paris", population=2100000)
    assert model.requests[0].output_schema is Answer
    session = agent_db.get_session(agent.session_id, SessionType.AGENT)
    assert session is not None
    assert session.runs[0].output == {"city": "Paris", "population": 2100000}


def test_output_schema_mismatch_is_a_model_output_error() -> None:
    """An answer that does not fit output_schema raises ModelOutputError."""
    with pytest.raises(ModelOutputError, match="Answer"):
        Agent(model=ScriptedModel('{"city": 3}'), output_schema=Answer).run("?")


def test_run_on_another_users_session_is_refused(agent_db: SyncDb) -> None:
    """Running on a session owned by someone else raises and writes nothing."""
    model = ScriptedModel("mine", "theirs")
    agent = Agent(model=model, db=agent_db, session_id="s1", user_id="alice")
    agent.run("hi")
    with pytest.raises(SessionOwnershipError):
        agent.run("hi", user_id="mallory")
    assert len(model.requests) == 1
    session = agent_db.get_session("s1", SessionType.AGENT)
    assert session is not None
    assert len(session.runs) == 1


def test_hooks_see_input_output_and_state() -> None:
    """Pre-hooks get the input and may change state; post-hooks get the output."""
    seen: dict[str, object] = {}

    def before(run_input: str, session_state: dict[str, Any]) -> None:
        seen["input"] = run_input
        session_state["checked"] = True

    async def after(run_output: Any, agent: Agent) -> None:
        seen["output"] = run_output.content
        seen["agent"] = agent.id

    output = Agent(model=ScriptedModel("answer"), pre_hooks=[before], post_hooks=[after]).run("question")
    assert seen == {"input": "question", "output": "answer", "agent": "agent"}
    assert output.session_state == {"checked": True}


def test_failing_pre_hook_fails_the_run() -> None:
    """A pre-hook that raises stops the run before the model is called."""

    def guard(run_input: str) -> None:
        raise PermissionError("not allowed")

    model = ScriptedModel("never")
    with pytest.raises(PermissionError):
        Agent(model=model, pre_hooks=[guard]).run("hi")
    assert model.requests == []
