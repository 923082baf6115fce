"""A run whose final commit fails: its row still ends (error, or abandoned by the next claim), and the
error the caller sees is the first failure, later ones noted on it (DESIGN.md §1.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kern.agent import Agent
from kern.db._sql import claims
from kern.db.base import SyncDb
from kern.db.records import Claim
from kern.db.store import SessionStore
from kern.exceptions import StorageError
from kern.run import RunStatus
from kern.run.active import ActiveRun, RunSpec, execute
from kern.session.schema import SessionType
from kern.testing import ScriptedModel

pytestmark = pytest.mark.anyio

SID = "s"


def failing_final_commits(monkeypatch: pytest.MonkeyPatch, message: str = "the final commit failed") -> None:
    """Every commit that would end a run (``release=True``: its final commit, or the one recording a
    failure) raises StorageError; other commits go through."""
    commit: Callable[..., Any] = SessionStore.commit

    async def flaky_commit(self: SessionStore, claim: Claim, **kwargs: Any) -> int:
        if kwargs.get("release"):
            raise StorageError(message)
        return await commit(self, claim, **kwargs)

    monkeypatch.setattr(SessionStore, "commit", flaky_commit)


def failing_releases(monkeypatch: pytest.MonkeyPatch, message: str = "the release failed") -> None:
    """Every ``store.release`` raises StorageError."""

    async def release(self: SessionStore, claim: Claim, **kwargs: Any) -> bool:
        raise StorageError(message)

    monkeypatch.setattr(SessionStore, "release", release)


def runs(db: SyncDb) -> list[tuple[str, RunStatus, str | None]]:
    return [(r.run_id, r.status, r.error) for r in db.get_runs(SID)]


async def test_a_run_whose_final_commit_fails_ends_as_error_when_it_releases(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Final commit and failure record both fail, the release works: the row is error, not running."""
    failing_final_commits(monkeypatch)
    agent = Agent(model=ScriptedModel("hi"), db=agent_db, session_id=SID)
    with pytest.raises(StorageError, match="the final commit failed"):
        await agent.arun("hello")
    [(_, status, error)] = runs(agent_db)
    assert (status, error) == (RunStatus.error, "StorageError: the final commit failed")


async def test_the_session_is_free_after_the_failed_final_commit(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the failing store recovers, the next run claims the session at once and completes."""
    failing_final_commits(monkeypatch)
    agent = Agent(model=ScriptedModel("hi", "again"), db=agent_db, session_id=SID, on_busy="reject")
    with pytest.raises(StorageError):
        await agent.arun("hello")
    monkeypatch.undo()
    assert (await agent.arun("hello again")).status is RunStatus.completed
    assert [status for _, status, _ in runs(agent_db)] == [RunStatus.error, RunStatus.completed]


async def test_when_the_release_fails_too_the_first_failure_is_the_error(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Final commit, failure record and release all fail: the caller gets the final commit's error, the
    later two as notes on it."""
    failing_final_commits(monkeypatch)
    failing_releases(monkeypatch)
    agent = Agent(model=ScriptedModel("hi"), db=agent_db, session_id=SID)
    with pytest.raises(StorageError) as raised:
        await agent.arun("hello")
    assert str(raised.value) == "the final commit failed"
    notes = raised.value.__notes__
    assert any("could not record the run as error" in note for note in notes), notes
    assert any("could not release the session either: the release failed" in note for note in notes), notes


async def test_a_run_whose_release_failed_is_abandoned_by_the_next_claim(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing recorded, the row stays running until its lease expires; the next run's claim then
    marks it abandoned."""
    failing_final_commits(monkeypatch)
    failing_releases(monkeypatch)
    agent = Agent(model=ScriptedModel("hi", "again"), db=agent_db, session_id=SID, lease_seconds=0.2)
    with pytest.raises(StorageError):
        await agent.arun("hello")
    assert [status for _, status, _ in runs(agent_db)] == [RunStatus.running]
    monkeypatch.undo()
    assert (await agent.arun("hello again")).status is RunStatus.completed  # waits out the dead lease
    assert [status for _, status, _ in runs(agent_db)] == [RunStatus.abandoned, RunStatus.completed]


def spec(db: SyncDb) -> RunSpec:
    return RunSpec(
        store=db.store,
        session_type=SessionType.AGENT,
        component_id="c",
        session_id=SID,
        user_id=None,
        run_id="r",
    )


async def finishes_without_commit(run: ActiveRun) -> str:
    """A body that returns without committing how the run ended."""
    return "done"


async def test_a_body_that_ends_without_a_final_commit_is_released_as_error(agent_db: SyncDb) -> None:
    """execute releases a run whose body never committed its ending, and the row says so."""
    assert await execute(spec(agent_db), finishes_without_commit) == "done"
    [(_, status, error)] = runs(agent_db)
    assert status is RunStatus.error
    assert error == claims.RELEASED_WITHOUT_ENDING


async def test_a_release_failing_after_a_body_that_succeeded_propagates(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing failed before the release: the release's own error is what the caller gets."""
    failing_releases(monkeypatch)
    with pytest.raises(StorageError, match="the release failed"):
        await execute(spec(agent_db), finishes_without_commit)


async def test_a_release_failure_is_not_hidden_behind_an_exception_the_caller_handles(
    agent_db: SyncDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started inside an ``except:`` block: the release's error propagates, not noted on the
    exception being handled there (which is not this run's)."""
    failing_releases(monkeypatch)
    handled = ValueError("the caller's own")
    try:
        raise handled
    except ValueError:
        with pytest.raises(StorageError, match="the release failed"):
            await execute(spec(agent_db), finishes_without_commit)
    assert not getattr(handled, "__notes__", [])
