"""What both contention workers share: the workload, the store, and how each burst is measured.

``contention_kern.py`` (project venv) and ``contention_agno.py`` (``bench/.venv-agno``) describe their
framework with a :class:`Contender` and call :func:`main`, which prints one JSON object::

    python bench/contention_kern.py sqlite 5    ->    {"one_runs_s": 61.2, "one_items": 50, ...}

The workload: an agent with ``session_state={"items": []}`` as its default, no history, and one tool,
``append(item)``, which appends ``item`` to the run's ``session_state["items"]``; its scripted model calls
``append`` with the user's message, then answers :data:`ANSWER`. Each repetition gets a fresh store (a new
SQLite file, or a new PostgreSQL schema dropped afterwards) and one Agent, makes one untimed warm-up run
on its own session (the tables are created there), then times two bursts of ``BURST`` concurrent
``arun`` (asyncio tasks in one event loop, started together, timed until the last one ends):

* one session: ``arun(f"item-{n}", session_id="shared")``; then the session is read back from the
  store: how many items its state kept and how many runs it recorded;
* many sessions: ``arun(f"item-{n}", session_id=f"s-{n}", user_id=f"u-{n}")``; then how many of the 50
  sessions hold exactly ``[f"item-{n}"]``.

A run fails if ``arun`` raises or answers anything but :data:`ANSWER`; failures are counted (and their
kinds written to stderr), never fatal. Only the runs/s figures are timed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _agent_common import Reply

BURST = 50
"""Concurrent runs per burst."""
PG_URL = os.environ.get("KERN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ANSWER = "Added."
TOOL_NAME = "append"

appended: list[str] = []
"""Every item the tool was called with (the check that the framework really ran the tool)."""


def append_item(state: dict[str, Any], item: str) -> str:
    """The tool's body, for both frameworks: append ``item`` to ``state["items"]``."""
    appended.append(item)
    state.setdefault("items", []).append(item)
    return "ok"


def append_reply(roles: list[str], user_text: str) -> Reply:
    """The script: ``append(item=<the user's message>)`` when the last message is the user's, then answer."""
    return (TOOL_NAME, {"item": user_text}) if roles[-1] == "user" else ANSWER


@dataclass(frozen=True)
class Store:
    """Where one repetition's runs persist: a SQLite file, or a PostgreSQL schema."""

    backend: str
    """"sqlite" or "postgres"."""
    face: str = "async"
    """The framework's "async" store class (the default), or its "sync" one (for a side comparison)."""
    db_file: Path | None = None
    db_url: str | None = None
    schema: str | None = None


@dataclass(frozen=True)
class Contender:
    """How a worker builds, runs and reads back its framework's agents."""

    agent: Callable[[Store], Any]
    """An Agent with the scripted model, the ``append`` tool and the default state, on ``store``."""
    arun: Callable[[Any, str, str, str | None], Awaitable[str]]
    """``arun(agent, text, session_id, user_id)``: one run; its content."""
    read: Callable[[Any, str, str | None], Awaitable[tuple[list[str], int]]]
    """``read(agent, session_id, user_id)``: the stored ``session_state["items"]`` and number of runs."""
    close: Callable[[Any], Awaitable[None]]
    """Release the agent's store (its engine and connections)."""


@dataclass
class Burst:
    """One repetition's results."""

    one_s: float
    one_items: int
    one_runs: int
    many_s: float
    many_own: int
    failed: int


errors: collections.Counter[str] = collections.Counter()
"""Kinds of failed runs, written to stderr at the end."""


async def _one_run(fw: Contender, agent: Any, text: str, session_id: str, user_id: str | None) -> bool:
    """One run; False (its error counted) if it raised or answered something else."""
    try:
        content = await fw.arun(agent, text, session_id, user_id)
    except Exception as exc:  # noqa: BLE001 - a framework's failure under contention is a result
        errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"] += 1
        return False
    if content != ANSWER:
        errors[f"answered {content[:80]!r}"] += 1
        return False
    return True


async def _burst(
    fw: Contender, agent: Any, calls: Sequence[tuple[str, str, str | None]]
) -> tuple[float, int]:
    """Seconds for ``calls`` run concurrently, and how many of them failed."""
    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_one_run(fw, agent, *call)) for call in calls]
    seconds = time.perf_counter() - start
    return seconds, [task.result() for task in tasks].count(False)


async def _repetition(fw: Contender, store: Store) -> Burst:
    agent = fw.agent(store)
    try:
        if not await _one_run(fw, agent, "warm-up", "warm-up", None):
            raise SystemExit(f"the warm-up run failed: {dict(errors)}")
        if (await fw.read(agent, "warm-up", None))[0] != ["warm-up"]:
            raise SystemExit("the warm-up run's item was not stored")
        calls = len(appended)
        one_s, one_failed = await _burst(fw, agent, [(f"item-{n}", "shared", None) for n in range(BURST)])
        items, runs = await fw.read(agent, "shared", None)
        if len(set(items)) != len(items) or not set(items) <= {f"item-{n}" for n in range(BURST)}:
            print(f"the shared session holds unexpected items: {items}", file=sys.stderr)
        many = [(f"item-{n}", f"s-{n}", f"u-{n}") for n in range(BURST)]
        many_s, many_failed = await _burst(fw, agent, many)
        own = 0
        for n in range(BURST):
            own += (await fw.read(agent, f"s-{n}", f"u-{n}"))[0] == [f"item-{n}"]
        if len(appended) - calls != 2 * BURST - one_failed - many_failed:
            print(f"the tool ran {len(appended) - calls} times in {2 * BURST} runs", file=sys.stderr)
        return Burst(one_s, len(items), runs, many_s, own, one_failed + many_failed)
    finally:
        await fw.close(agent)


def _drop_schema(schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()


def measure(fw: Contender, backend: str, repeat: int, name: str, face: str) -> dict[str, float]:
    """``repeat`` repetitions (each in its own event loop, on a fresh store); medians, failures summed."""
    bursts: list[Burst] = []
    for i in range(repeat):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                store = Store("sqlite", face, db_file=Path(tmp) / "bench.db")
                bursts.append(asyncio.run(_repetition(fw, store)))
        else:
            schema = f"bench_{name}_{uuid.uuid4().hex[:8]}_{i}"
            try:
                store = Store("postgres", face, db_url=PG_URL, schema=schema)
                bursts.append(asyncio.run(_repetition(fw, store)))
            finally:
                _drop_schema(schema)
    for kind, count in errors.most_common():
        print(f"{name} {backend}: {count} failed runs: {kind}", file=sys.stderr)
    return {
        "one_runs_s": statistics.median(BURST / b.one_s for b in bursts),
        "one_items": statistics.median(b.one_items for b in bursts),
        "one_items_min": min(b.one_items for b in bursts),
        "one_items_max": max(b.one_items for b in bursts),
        "one_runs": statistics.median(b.one_runs for b in bursts),
        "many_runs_s": statistics.median(BURST / b.many_s for b in bursts),
        "many_own": statistics.median(b.many_own for b in bursts),
        "failed": sum(b.failed for b in bursts),
        "attempted": 2 * BURST * repeat,
    }


def main(fw: Contender, name: str) -> None:
    """``worker.py {sqlite,postgres} REPEAT [async|sync]``: the contention measure on one backend, as JSON."""
    backend, repeat, face = worker_args()
    print(json.dumps(measure(fw, backend, repeat, name, face)))


def worker_args() -> tuple[str, int, str]:
    """A store worker's arguments ``{sqlite,postgres} REPEAT [async|sync]``: backend, repeat, face."""
    args = sys.argv[1:]
    if (
        len(args) not in (2, 3)
        or args[0] not in ("sqlite", "postgres")
        or args[2:] not in ([], ["async"], ["sync"])
    ):
        raise SystemExit(f"usage: {sys.argv[0]} {{sqlite,postgres}} REPEAT [async|sync]")
    return args[0], int(args[1]), args[2] if len(args) == 3 else "async"
