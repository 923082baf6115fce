"""agno's workflow worker: ``bench/.venv-agno/bin/python bench/workflow_agno.py {sqlite,postgres} N``.

The workflow and the measure are in ``_workflow_common``. ``agno.workflow.Workflow`` of
``agno.workflow.Step(name=..., executor=step)``s, run with ``await workflow.arun(input=...)`` (not
streamed); the step function takes the ``StepInput`` and a ``RunContext`` whose ``session_state`` is the
run's state (shared by every step of the run) and returns a ``StepOutput``. What agno persists: in
``_aexecute`` it reads (or creates) the session once before the first step and, after the last step,
upserts the session row (with the state) and the run row (with every step's output) once; nothing is
written between steps (on SQLite: one SELECT and two INSERT .. ON CONFLICT per 100-step run). Without a
db nothing is stored. The stores are agno's async classes (``AsyncSqliteDb``, ``AsyncPostgresDb``; a
third argument ``sync``: ``SqliteDb`` / ``PostgresDb``); the state is read back with the db's
own ``get_session`` (the row agno wrote, not the workflow's cache).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

os.environ.setdefault("AGNO_TELEMETRY", "false")  # before agno is imported

from _contention_common import Store
from _workflow_common import INPUT, STEPS, Flows, advance, main
from agno.db.base import SessionType
from agno.run import RunContext
from agno.workflow import Step, StepInput, StepOutput, Workflow


def step(step_input: StepInput, run_context: RunContext) -> StepOutput:
    assert run_context.session_state is not None
    content = advance(step_input.previous_step_content, step_input.input, run_context.session_state)
    return StepOutput(content=content)


def workflow(store: Store | None) -> Workflow:
    db: Any = None
    if store is not None and store.backend == "sqlite":
        from agno.db.sqlite import AsyncSqliteDb, SqliteDb

        db = (AsyncSqliteDb if store.face == "async" else SqliteDb)(db_file=str(store.db_file))
    elif store is not None:
        from agno.db.postgres import AsyncPostgresDb, PostgresDb

        db = (AsyncPostgresDb if store.face == "async" else PostgresDb)(
            db_url=store.db_url, db_schema=store.schema
        )
    return Workflow(
        name="bench",
        steps=[Step(name=f"s{i}", executor=step) for i in range(STEPS)],
        db=db,
        session_state={"count": 0},
    )


async def arun(workflow: Workflow, session_id: str) -> str:
    return str((await workflow.arun(input=INPUT, session_id=session_id)).content)


async def read(workflow: Workflow, session_id: str) -> dict[str, Any]:
    assert workflow.db is not None
    session: Any = workflow.db.get_session(session_id=session_id, session_type=SessionType.WORKFLOW)
    if inspect.isawaitable(session):
        session = await session
    if session is None:
        return {}
    return dict((session.session_data or {}).get("session_state") or {})


async def close(workflow: Workflow) -> None:
    if workflow.db is not None:
        closed = workflow.db.close()
        if inspect.isawaitable(closed):
            await closed


if __name__ == "__main__":
    main(Flows(workflow=workflow, arun=arun, read=read, close=close), "agno")
