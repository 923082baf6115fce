"""How many SQL statements and transactions one agent run and one workflow step cost, on every face.

Counted on the store's own engine with SQLAlchemy's events: a statement is each ``before_cursor_execute``
but SQLite's ``BEGIN`` (which Kern emits itself, and is counted as the transaction) and the ``PRAGMA``s a
new connection is set up with; a transaction is each ``begin``, a write one when it runs with Kern's
``BEGIN IMMEDIATE`` option. Pool pre-pings do not go through the events. The store is warmed up first
(schema check, first connection), so only the run's own work is counted. A change that adds a statement
or a transaction to the hot path fails here; times are measured in ``bench/`` only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from kern.agent import Agent
from kern.db._sql.dialect import BEGIN_OPTION
from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.testing import ScriptedModel, tool_call
from kern.workflow import StepInput, Workflow
from tests.db.conftest import BACKENDS, make_db

AGENT_RUN = (10, 3, 1)
"""(statements, write transactions, read transactions) of a 2-turn tool run on a session that exists."""

FIRST_AGENT_RUN = (12, 3, 1)
"""The same for the run that creates its session."""

WORKFLOW_STEP = (2, 1, 0)
"""(statements, write transactions, read transactions) each further function step adds to a workflow: one
write transaction (the fenced, locked read of the session's version, then the upsert of the step's row
``completed``); its start is not written."""


@dataclass
class Counter:
    """Statements and transactions seen on one engine while ``on``."""

    on: bool = False
    statements: list[str] = field(default_factory=lambda: [])
    writes: int = 0
    reads: int = 0

    def attach(self, engine: Engine) -> None:
        """Listen to ``engine``'s statements and transaction starts."""

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(  # pyright: ignore[reportUnusedFunction]
            _conn: Connection, _cursor: Any, statement: str, *_args: Any
        ) -> None:
            if self.on and not statement.startswith(("BEGIN", "PRAGMA")):
                self.statements.append(statement)

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
            if self.on:
                if conn.get_execution_options().get(BEGIN_OPTION) == "IMMEDIATE":
                    self.writes += 1
                else:
                    self.reads += 1

    def counts(self) -> tuple[int, int, int]:
        """(statements, write transactions, read transactions) so far."""
        return len(self.statements), self.writes, self.reads

    def reset(self) -> None:
        """Forget what was counted."""
        self.statements.clear()
        self.writes = self.reads = 0


@pytest.fixture(params=BACKENDS)
async def counted(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[BaseDb, Counter]]:
    """A fresh store of each face with a counter on its engine, off until a test turns it on."""
    db = make_db(request.param, tmp_path, request)
    engine = db.store._executor.engine  # pyright: ignore[reportPrivateUsage]
    counter = Counter()
    counter.attach(engine.sync_engine if isinstance(engine, AsyncEngine) else engine)
    yield db, counter
    if isinstance(db, AsyncDb):
        await db.close()
    elif isinstance(db, SyncDb):
        db.close()


def add_one(x: int) -> int:
    """Add one to x."""
    return x + 1


async def agent_run(db: BaseDb, session_id: str) -> None:
    """A 2-turn run: one tool call, then the answer."""
    model = ScriptedModel(tool_call("add_one", x=1), "done")
    output = await Agent(model=model, tools=[add_one], db=db).arun("go", session_id=session_id)
    assert output.content == "done"


async def workflow_run(db: BaseDb, steps: int) -> None:
    """A workflow of ``steps`` function steps on a new session."""

    def step(step_input: StepInput) -> str:
        return "ok"

    workflow = Workflow(name="counted", steps=[step] * steps, db=db)
    await workflow.arun("go", session_id=uuid.uuid4().hex)


@pytest.mark.anyio
async def test_agent_run_statements_and_transactions(counted: tuple[BaseDb, Counter]) -> None:
    """A 2-turn tool run on a session that exists costs exactly AGENT_RUN statements and transactions."""
    db, counter = counted
    await agent_run(db, "counted")
    counter.on = True
    await agent_run(db, "counted")
    assert counter.counts() == AGENT_RUN, counter.statements


@pytest.mark.anyio
async def test_first_agent_run_statements_and_transactions(counted: tuple[BaseDb, Counter]) -> None:
    """A 2-turn tool run creating its session costs exactly FIRST_AGENT_RUN statements and transactions."""
    db, counter = counted
    await agent_run(db, "warm-up")
    counter.on = True
    await agent_run(db, "counted")
    assert counter.counts() == FIRST_AGENT_RUN, counter.statements


@pytest.mark.anyio
async def test_workflow_step_statements_and_transactions(counted: tuple[BaseDb, Counter]) -> None:
    """Each function step of a workflow costs exactly WORKFLOW_STEP statements and transactions."""
    db, counter = counted
    await workflow_run(db, 1)
    counter.on = True
    await workflow_run(db, 1)
    one = counter.counts()
    counter.reset()
    await workflow_run(db, 3)
    three = counter.counts()
    assert tuple((b - a) / 2 for a, b in zip(one, three, strict=True)) == WORKFLOW_STEP, counter.statements
