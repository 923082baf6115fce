"""Kern's workflow worker: ``.venv/bin/python bench/workflow_kern.py {sqlite,postgres} REPEAT [async|sync]``.

The workflow and the measure are in ``_workflow_common``. ``kern.workflow.Workflow`` of ``Step(name=...,
executor=step, inline=True)``s; the step function takes the ``StepInput`` and the workflow's live
``session_state`` (injected by parameter name) and returns a string (the step's content). ``inline=True``
calls it on the event loop, as agno's ``Step.aexecute`` calls a sync function step (directly, no
thread): the same work on both sides. Kern journals every step: a row committed when it starts, and its
output with the state changes since the last commit in the transaction that completes it. Without a db
the workflow journals the same way into Kern's process-wide in-memory SQLite store. The stores are
Kern's async faces (``AsyncSqliteDb``, ``AsyncPostgresDb``; ``sync``: ``SqliteDb`` / ``PostgresDb``);
the state is read back with ``aget_session_state`` (a read from the store).
"""

from __future__ import annotations

from typing import Any

from _contention_common import Store
from _workflow_common import INPUT, STEPS, Flows, advance, main

from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.workflow import Step, StepInput, Workflow


def step(step_input: StepInput, session_state: dict[str, Any]) -> str:
    return advance(step_input.previous_step_content, step_input.input, session_state)


def workflow(store: Store | None) -> Workflow:
    db: BaseDb | None = None
    if store is not None and store.backend == "sqlite":
        from kern.db.sqlite import AsyncSqliteDb, SqliteDb

        db = (AsyncSqliteDb if store.face == "async" else SqliteDb)(db_file=store.db_file)
    elif store is not None:
        from kern.db.postgres import AsyncPostgresDb, PostgresDb

        assert store.db_url is not None
        db = (AsyncPostgresDb if store.face == "async" else PostgresDb)(store.db_url, db_schema=store.schema)
    return Workflow(
        name="bench",
        steps=[Step(name=f"s{i}", executor=step, inline=True) for i in range(STEPS)],
        db=db,
        session_state={"count": 0},
    )


async def arun(workflow: Workflow, session_id: str) -> str:
    return str((await workflow.arun(INPUT, session_id=session_id)).content)


async def read(workflow: Workflow, session_id: str) -> dict[str, Any]:
    return await workflow.aget_session_state(session_id)


async def close(workflow: Workflow) -> None:
    if isinstance(workflow.db, AsyncDb):
        await workflow.db.close()
    elif isinstance(workflow.db, SyncDb):
        workflow.db.close()


if __name__ == "__main__":
    main(Flows(workflow=workflow, arun=arun, read=read, close=close), "kern")
