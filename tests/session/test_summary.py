"""Session summaries: written after runs, incrementally; shown instead of the history they cover."""

from __future__ import annotations

import json

import anyio
import pytest

from kern.agent import Agent
from kern.db.in_memory import InMemoryDb
from kern.exceptions import UsageError
from kern.run import RunCompleted, RunStatus
from kern.session.schema import SessionSummary
from kern.session.summary import DEFAULT_SUMMARY_PROMPT, SessionSummaryManager
from kern.testing import FunctionModel, ModelRequest, ScriptedModel


def is_summary_request(request: ModelRequest) -> bool:
    """True for the SessionSummaryManager's request (its system prompt)."""
    return request.system == DEFAULT_SUMMARY_PROMPT


def summary_reply(request: ModelRequest) -> str:
    """A summary naming the last thing the user said."""
    said = (request.last_user_message or "").split("user: ")[-1].split("\n", 1)[0]
    return json.dumps({"summary": f"The user last said: {said}", "topics": ["chat"]})


def summarizing_model(requests: list[ModelRequest] | None = None) -> FunctionModel:
    """Answers runs with "ok" and summary requests with :func:`summary_reply` (recorded in ``requests``)."""

    def reply(request: ModelRequest) -> str:
        if not is_summary_request(request):
            return "ok"
        if requests is not None:
            requests.append(request)
        return summary_reply(request)

    return FunctionModel(reply)


def request_size(request: ModelRequest) -> int:
    """Characters the request carried."""
    return sum(len(m.content or "") for m in request.messages)


@pytest.mark.anyio
async def test_a_summary_is_written_after_each_run() -> None:
    """enable_session_summaries stores a summary with topics after the run; get_session_summary reads it."""
    agent = Agent(model=summarizing_model(), enable_session_summaries=True)
    await agent.arun("I am planning a trip to Japan")
    summary = await agent.aget_session_summary()
    assert summary is not None
    assert (summary.summary, summary.topics) == (
        "The user last said: I am planning a trip to Japan",
        ["chat"],
    )
    session = await agent.aget_session()
    assert session is not None
    assert session.summary == summary


@pytest.mark.anyio
async def test_the_summary_is_updated_from_the_previous_one_and_the_new_run_only() -> None:
    """The second update sees the first summary and the second run's messages, not the first run's."""
    requests: list[ModelRequest] = []
    agent = Agent(model=summarizing_model(requests), enable_session_summaries=True)
    await agent.arun("first message")
    await agent.arun("second message")
    second = requests[1].last_user_message or ""
    assert "The user last said: first message" in second
    assert "user: second message" in second
    assert "user: first message" not in second


@pytest.mark.anyio
async def test_with_the_summary_in_context_only_the_history_after_it_is_sent() -> None:
    """The system message carries the summary; the runs it covers are not repeated as history."""
    chat: list[ModelRequest] = []

    def reply(request: ModelRequest) -> str:
        if is_summary_request(request):
            return summary_reply(request)
        chat.append(request)
        return "ok"

    agent = Agent(
        model=FunctionModel(reply), enable_session_summaries=True, add_session_summary_to_context=True
    )
    await agent.arun("my name is Ada")
    await agent.arun("what is my name?")
    last = chat[-1]
    assert "The user last said: my name is Ada" in (last.system or "")
    assert [(m.role, m.content) for m in last.messages if m.role != "system"] == [
        ("user", "what is my name?")
    ]


@pytest.mark.anyio
async def test_fifty_messages_with_summaries_keep_the_prompt_bounded() -> None:
    """Over 50 runs with a long history window, requests stay small with summaries and grow without."""

    def sizes(*, summaries: bool) -> list[int]:
        chat: list[int] = []

        def reply(request: ModelRequest) -> str:
            if is_summary_request(request):
                return summary_reply(request)
            chat.append(request_size(request))
            return "Noted, thanks for telling me that."

        agent = Agent(
            model=FunctionModel(reply),
            num_history_runs=100,
            enable_session_summaries=summaries,
            add_session_summary_to_context=summaries,
        )
        for i in range(50):
            agent.run(f"Message {i}: here is one more thing about my day that you should keep in mind")
        return chat

    with_summaries = sizes(summaries=True)
    without = sizes(summaries=False)
    assert max(with_summaries) < 400
    assert without[-1] > 10 * max(with_summaries)


@pytest.mark.anyio
async def test_a_custom_summary_manager_uses_its_own_model() -> None:
    """session_summary_manager= turns summaries on with that manager's model."""
    manager = SessionSummaryManager(model=ScriptedModel(json.dumps({"summary": "custom", "topics": []})))
    agent = Agent(
        model=ScriptedModel("hello"), session_summary_manager=manager, add_session_summary_to_context=True
    )
    await agent.arun("hi")
    summary = await agent.aget_session_summary()
    assert summary is not None
    assert summary.summary == "custom"


@pytest.mark.anyio
async def test_a_failing_summary_is_reported_and_the_run_stays_completed() -> None:
    """A summary model error leaves the run completed and stored; the error is on output.post_run."""
    manager = SessionSummaryManager(model=ScriptedModel(RuntimeError("summary model down")))
    agent = Agent(model=ScriptedModel("fine"), session_summary_manager=manager)
    output = await agent.arun("hi")
    assert (output.status, output.content) == (RunStatus.completed, "fine")
    assert output.post_run is not None
    assert output.post_run.errors == ["session summary: RuntimeError: summary model down"]
    assert await agent.aget_session_summary() is None


@pytest.mark.anyio
async def test_a_summary_made_from_an_outdated_one_is_not_written() -> None:
    """set_session_summary writes only over the summary it was made from (compare and set)."""
    store = InMemoryDb().store
    await store.create_session("s", Agent.session_type)
    assert await store.set_session_summary("s", None, SessionSummary("first", last_run_at=10.0)) is True
    assert await store.set_session_summary("s", None, SessionSummary("late", last_run_at=5.0)) is False
    assert await store.set_session_summary("s", None, SessionSummary("next", last_run_at=20.0), replaces=10.0)
    summary = await store.get_session_summary("s")
    assert summary is not None
    assert summary.summary == "next"


@pytest.mark.anyio
async def test_a_summary_that_loses_a_race_loses_no_run() -> None:
    """Run A's summary is slow; run B's, written first, already covers A; A's late one is not written."""
    release = anyio.Event()
    calls: list[str] = []

    async def reply(request: ModelRequest) -> str:
        if not is_summary_request(request):
            return "ok"
        calls.append(request.last_user_message or "")
        if len(calls) == 1:
            await release.wait()
        return json.dumps({"summary": f"covers: {request.last_user_message}", "topics": []})

    agent = Agent(model=FunctionModel(reply), enable_session_summaries=True)
    async with anyio.create_task_group() as tg:
        first = await agent.arun("ALPHA", background=tg)
        await agent.arun("BETA")
        release.set()
        assert first.post_run is not None
        await first.post_run.wait()
        assert first.post_run.summary is None  # superseded, not an error
        assert first.post_run.errors == []
    summary = await agent.aget_session_summary()
    assert summary is not None
    assert "ALPHA" in summary.summary
    assert "BETA" in summary.summary


@pytest.mark.anyio
async def test_a_streamed_run_carries_its_post_run_in_run_completed() -> None:
    """The RunCompleted event's output has post_run, so a stream consumer can wait for the summary."""
    agent = Agent(model=summarizing_model(), enable_session_summaries=True)
    completed = [e async for e in agent.arun("hi", stream=True) if isinstance(e, RunCompleted)]
    post = completed[0].output.post_run
    assert post is not None
    await post.wait()
    assert post.summary is not None


def test_background_is_refused_by_the_sync_run() -> None:
    """run(background=...) raises UsageError: a sync caller has no task group of its loop to lend."""
    agent = Agent(model=ScriptedModel("hi"), enable_session_summaries=True)
    with pytest.raises(UsageError, match="background"):
        agent.run("hi", background=object())  # type: ignore[arg-type]
