"""Resume follows run's owner rule: the explicit user_id, else the definition's, else the anonymous owner
(exactly: not "any owner"). A run on another user's session raises SessionOwnershipError, writing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from kern._private.sync import run_sync
from kern.db.base import SyncDb
from kern.exceptions import SessionOwnershipError
from kern.run import RunStatus
from kern.session.schema import StepRecord
from kern.workflow import Workflow
from tests.workflow.test_resume import Counted, Flaky

pytestmark = pytest.mark.anyio


class Steps:
    """The steps of one workflow (a counted first step, then a flaky one), shared by its definitions."""

    def __init__(self) -> None:
        self.first, self.flaky = Counted("first"), Flaky("flaky")

    def workflow(self, db: SyncDb, user_id: str | None = None, session_id: str = "s") -> Workflow:
        return Workflow(
            name="owned", db=db, user_id=user_id, session_id=session_id, steps=[self.first, self.flaky]
        )


async def failed_run_of(workflow: Workflow) -> str:
    """Run ``workflow`` expecting its flaky step to fail; the failed run's id."""
    with pytest.raises(RuntimeError):
        await workflow.arun("go")
    (run,) = await workflow.store.get_runs(workflow.default_session_id)
    assert run.status is RunStatus.error
    return run.run_id


def stored(db: SyncDb, run_id: str) -> tuple[Any, ...]:
    """Everything a resume could write: the session's state, version and runs, and the run's journal."""
    session = db.get_session("s")
    assert session is not None
    found = run_sync(lambda: db.store.journal(run_id))
    assert found is not None
    journal: list[StepRecord] = found[1]
    runs = [(r.run_id, r.status, r.error, r.updated_at) for r in session.runs]
    return session.session_state, session.version, runs, [(s.step_path, s.status, s.attempt) for s in journal]


async def test_a_resume_by_another_users_definition_is_refused_and_writes_nothing(agent_db: SyncDb) -> None:
    """Workflow(user_id="bob").resume(alice's run) raises SessionOwnershipError; her run stays as it was."""
    steps = Steps()
    run_id = await failed_run_of(steps.workflow(agent_db, user_id="alice"))
    before = stored(agent_db, run_id)
    steps.flaky.failing = False
    with pytest.raises(SessionOwnershipError, match="another user than 'bob'"):
        await steps.workflow(agent_db, user_id="bob").aresume(run_id)
    assert stored(agent_db, run_id) == before
    assert (steps.first.calls, steps.flaky.calls) == (1, 1)


async def test_an_anonymous_resume_of_a_users_run_is_refused(agent_db: SyncDb) -> None:
    """A definition without a user resumes as the anonymous owner: alice's run is not its to continue."""
    steps = Steps()
    run_id = await failed_run_of(steps.workflow(agent_db, user_id="alice"))
    before = stored(agent_db, run_id)
    steps.flaky.failing = False
    with pytest.raises(SessionOwnershipError, match="another user than None"):
        await steps.workflow(agent_db).aresume(run_id)
    assert stored(agent_db, run_id) == before


async def test_a_users_resume_of_an_anonymous_run_is_refused(agent_db: SyncDb) -> None:
    """An anonymous run is the NULL owner's: a user (even "default") resuming it is refused."""
    steps = Steps()
    run_id = await failed_run_of(steps.workflow(agent_db))
    steps.flaky.failing = False
    for user in ("bob", "default"):
        with pytest.raises(SessionOwnershipError):
            await steps.workflow(agent_db, user_id=user).aresume(run_id)
    assert steps.flaky.calls == 1


async def test_resume_without_user_id_uses_the_definitions(agent_db: SyncDb) -> None:
    """The definition's user_id resumes that user's run, which completes as theirs."""
    steps = Steps()
    workflow = steps.workflow(agent_db, user_id="alice")
    run_id = await failed_run_of(workflow)
    steps.flaky.failing = False
    output = await workflow.aresume(run_id)
    assert (output.status, output.user_id) == (RunStatus.completed, "alice")
    assert (steps.first.calls, steps.flaky.calls) == (1, 2)


async def test_an_explicit_user_id_overrides_the_definitions(agent_db: SyncDb) -> None:
    """resume(run, user_id="alice") on a definition of bob resumes alice's run (the call's user wins)."""
    steps = Steps()
    run_id = await failed_run_of(steps.workflow(agent_db, user_id="alice"))
    steps.flaky.failing = False
    output = steps.workflow(agent_db, user_id="bob").resume(run_id, user_id="alice")
    assert (output.status, output.user_id) == (RunStatus.completed, "alice")
    session = agent_db.get_session("s", user_id="alice")
    assert session is not None
    assert session.session_state["items"] == ["first", "flaky"]  # the failed attempt's write was undone
