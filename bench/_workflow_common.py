"""What both workflow workers share: the 100-step workflow, and how its runs are timed.

``workflow_kern.py`` (project venv) and ``workflow_agno.py`` (``bench/.venv-agno``) describe their
framework with a :class:`Flows` and call :func:`main`, which takes one measure and prints one JSON
object::

    python bench/workflow_kern.py sqlite 15    ->    {"none_ms": 512.0, "db_ms": 1104.2, "step_ms": 5.9}

The workflow: :data:`STEPS` function steps ``s0``..``s99`` in order, each the same function, whose
body is :func:`advance`: it adds 1 to ``session_state["count"]`` (the workflow's state, which a new
session starts as ``{"count": 0}``) and returns ``str(int(<the previous step's content>) + 1)`` (the
first step reads the run's input, :data:`INPUT`), so a run answers ``"100"`` and leaves
``{"count": 100}`` in its session.

A measure on ``sqlite`` / ``postgres``: one fresh store (a new SQLite file, or a new PostgreSQL
schema dropped afterwards) and two workflows, one on that store and one without a db, in one event
loop. :data:`WARMUP` untimed runs of each (the first creates the tables), then ``REPEAT`` rounds (3 to
100), each one run of both back to back (the order alternating between rounds), every run on a session
of its own (so no run reads another's). Results: the median ms of the no-DB runs (``none_ms``), of the
DB runs (``db_ms``), and the median over rounds of (DB run - no-DB run of the same round) / STEPS
(``step_ms``): what a step costs more when its workflow persists to the store.

Every run is checked: its content is ``"100"`` and the step function ran STEPS times; the state of the
DB workflow's last session is read back through the db (a fresh read) and must be ``{"count": 100}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _contention_common import PG_URL, Store, _drop_schema, worker_args

STEPS = 100
INPUT = "0"
ANSWER = str(STEPS)
WARMUP = 2

advanced: list[int] = []
"""Every count a step left (the check that the framework really ran each step function)."""


def advance(previous: Any, first_input: Any, state: dict[str, Any]) -> str:
    """The body of every step, for both frameworks: count the step in the state, add 1 to the content."""
    state["count"] = state.get("count", 0) + 1
    advanced.append(state["count"])
    return str(int(previous if previous is not None else first_input) + 1)


@dataclass(frozen=True)
class Flows:
    """How a worker builds, runs and reads back its framework's workflows."""

    workflow: Callable[[Store | None], Any]
    """``workflow(store)``: the STEPS-step workflow with ``session_state={"count": 0}``; None: no db."""
    arun: Callable[[Any, str], Awaitable[str]]
    """``arun(workflow, session_id)``: one ``await arun(INPUT)`` on that session; its content."""
    read: Callable[[Any, str], Awaitable[dict[str, Any]]]
    """``read(workflow, session_id)``: the session's stored state, read through the workflow's db."""
    close: Callable[[Any], Awaitable[None]]
    """Release the workflow's store (its engine and connections)."""


@contextlib.contextmanager
def fresh_store(backend: str, face: str, name: str) -> Iterator[Store]:
    """A new SQLite file in a temporary directory, or a new PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield Store("sqlite", face, db_file=Path(tmp) / "bench.db")
        return
    schema = f"bench_workflow_{name}_{uuid.uuid4().hex[:8]}"
    try:
        yield Store("postgres", face, db_url=PG_URL, schema=schema)
    finally:
        _drop_schema(schema)


async def _timed(fw: Flows, workflow: Any, session_id: str) -> float:
    """Seconds for one checked run on ``session_id``."""
    steps = len(advanced)
    start = time.perf_counter()
    content = await fw.arun(workflow, session_id)
    seconds = time.perf_counter() - start
    if content != ANSWER:
        raise SystemExit(f"{session_id}: unexpected answer {content!r}")
    if len(advanced) - steps != STEPS:
        raise SystemExit(f"{session_id}: {len(advanced) - steps} steps ran, not {STEPS}")
    return seconds


async def _rounds(fw: Flows, store: Store, rounds: int) -> dict[str, float]:
    plain, persisted = fw.workflow(None), fw.workflow(store)
    try:
        for i in range(WARMUP):
            await _timed(fw, plain, f"none-warm-{i}")
            await _timed(fw, persisted, f"db-warm-{i}")
        none_s: list[float] = []
        db_s: list[float] = []
        for n in range(rounds):
            if n % 2:
                db_s.append(await _timed(fw, persisted, f"db-{n}"))
                none_s.append(await _timed(fw, plain, f"none-{n}"))
            else:
                none_s.append(await _timed(fw, plain, f"none-{n}"))
                db_s.append(await _timed(fw, persisted, f"db-{n}"))
        stored = await fw.read(persisted, f"db-{rounds - 1}")
        if stored != {"count": STEPS}:
            raise SystemExit(f"the stored state of the last run is {stored!r}, not {{'count': {STEPS}}}")
    finally:
        await fw.close(persisted)
    return {
        "none_ms": statistics.median(none_s) * 1000,
        "db_ms": statistics.median(db_s) * 1000,
        "step_ms": statistics.median((d - p) / STEPS for d, p in zip(db_s, none_s, strict=True)) * 1000,
    }


def main(fw: Flows, name: str) -> None:
    """``worker.py {sqlite,postgres} REPEAT [async|sync]``: time the runs on one backend, print JSON.

    The third argument picks the framework's store class: its async one (the default) or its sync one.
    """
    backend, repeat, face = worker_args()
    with fresh_store(backend, face, name) as store:
        results = asyncio.run(_rounds(fw, store, min(max(3, repeat), 100)))
    print(json.dumps(results))
