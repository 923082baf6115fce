"""One Workflow run: claim the session (kern.run.top_level), walk the steps with the journal, commit.

A new run and a resumed one are the same run here; a resumed one first reads the journal its earlier
attempts wrote and checks that the workflow still has the steps it recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kern.models.message import Message
from kern.run.active import ActiveRun
from kern.run.events import Emit
from kern.run.finish import commit_completed
from kern.run.output import RunMetrics, RunOutput
from kern.run.runnable import RunCall
from kern.run.top_level import run_top_level
from kern.session.schema import StepRecord
from kern.session.status import RunStatus, StepStatus
from kern.workflow._engine import Engine
from kern.workflow._journal import RUN_PATH, Journal, check_against

if TYPE_CHECKING:
    from kern.workflow.workflow import Workflow


async def run_workflow(
    workflow: Workflow, call: RunCall, emit: Emit, *, resume_run_id: str | None = None
) -> RunOutput:
    """Run (or with ``resume_run_id``, continue) ``workflow`` on the call's session."""

    async def turn(run: ActiveRun, history: Sequence[Message]) -> RunOutput:
        journal = await _journal(workflow, run, resumed=resume_run_id is not None)
        engine = Engine(workflow, run, journal, emit, call.input, stream=call.stream)
        last = await engine.sequence(workflow.nodes, "", None)
        content = last.content if last is not None else None
        run.add_message(
            Message(role="assistant", content=last.get_content_as_string() if last is not None else "")
        )
        context = run.context
        output = RunOutput(
            run_id=context.run_id,
            session_id=context.session_id,
            user_id=context.user_id,
            source=workflow.component_id,
            status=RunStatus.completed,
            content=content,
            metrics=RunMetrics(duration=time.time() - run.started_at),
            step_outputs=dict(engine.outputs),
        )
        root = journal.recorded[RUN_PATH]
        done = StepRecord(
            run_id=context.run_id,
            step_path=RUN_PATH,
            step_name=root.step_name,
            status=StepStatus.completed,
            decision=root.decision,
            attempt=root.attempt,
            started_at=root.started_at,
            finished_at=time.time(),
        )
        return await commit_completed(run, output, steps=[done])

    return await run_top_level(
        workflow, call, emit, turn, resume_run_id=resume_run_id, state_at_checkpoints=False
    )


async def _journal(workflow: Workflow, run: ActiveRun, *, resumed: bool) -> Journal:
    """The run's journal: empty for a new run, as recorded for a resumed one; its run row written."""
    rows: list[StepRecord] = []
    if resumed:
        found = await run.spec.store.journal_of(run.spec.run_id, run.spec.user_id)
        rows = found[1] if found is not None else []
        check_against(workflow.nodes, {row.step_path: row for row in rows})  # again: it may have moved on
    journal = Journal(run, rows)
    root = journal.recorded.get(RUN_PATH)
    await journal.write(
        RUN_PATH,
        workflow.component_id,
        StepStatus.running,
        attempt=root.attempt + 1 if root is not None else 1,
        started_at=root.started_at if root is not None else run.started_at,
        decision={"source": workflow.source},
        with_state=not resumed,  # the state the run starts from (a run's session_state=) is kept for resume
    )
    return journal
