"""What both team workers share: the team, the scripts, and how each team measure is taken.

``team_kern.py`` (project venv) and ``team_agno.py`` (``bench/.venv-agno``) describe their framework
with a :class:`Teams` and call :func:`main`, which takes one measure and prints one JSON object::

    python bench/team_kern.py fanout 15    ->    {"fanout_ms": 31.2}
    python bench/team_kern.py sqlite 5     ->    {"items": 100, "items_min": 100, ..., "copy_items": 100, ...}

The team: a coordinator and four members ``m0``..``m3``, every model scripted (no network). The
coordinator's script, when the last message is the user's, delegates one task to each member in ONE
turn (four ``delegate_task_to_member(member_id, task)`` calls in one response, which both frameworks run
concurrently), then answers :data:`ANSWER` once the results are in. A member's script either answers its
task with text at once, or first calls its one tool :data:`APPENDS` times in one turn (that many tool
calls in one response, ``item="m0-0"``.. ``"m0-24"``) and answers once the results are in. The tool is
one of two, with the same effect on a dict of its own:

* ``append_item(item)``: ``state["items"].append(item)``, the list changed in place;
* ``append_item_copy(item)``: ``state["items"] = [*state["items"], item]``, a new list written back
  (how a tool that treats the state as values, or builds a new list, writes).

* ``fanout``: the team without a db (Kern: its process-wide in-memory store; agno: nothing stored) and
  without history, ``await team.arun(PROMPT)`` on the team's own session, members answering at once:
  median ms of ``FANOUT_RUNS_PER_REPEAT x REPEAT`` runs after ``FANOUT_WARMUP`` untimed ones, all in one
  event loop.
* ``sqlite`` / ``postgres``: ``REPEAT`` repetitions, each with a fresh store per tool (a new SQLite file,
  or a new PostgreSQL schema dropped afterwards) and a team with ``session_state={"items": []}`` whose
  members each add ``APPENDS`` distinct items with that tool; one ``arun`` on session ``"shared"``,
  then the stored state is read back through the db (a fresh read, not the team's objects) and its items
  counted (of ``4 x APPENDS``): median, min and max per tool. Not timed.

Every run is checked: the answer is :data:`ANSWER`, each member answered once, and the tool ran once per
scripted call (so an item missing from the store was added and then lost, never not added).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _contention_common import PG_URL, Store, _drop_schema

MEMBER_IDS = ("m0", "m1", "m2", "m3")
DELEGATE = "delegate_task_to_member"
APPEND = "append_item"
APPEND_COPY = "append_item_copy"
TOOLS = {"": APPEND, "copy_": APPEND_COPY}
"""The append tools, by the prefix of their result keys."""
APPENDS = 25
"""Items each member adds in the parallel-append measure."""
PROMPT = "Split the work between the members."
ANSWER = "The team is done."

Call = tuple[str, dict[str, Any]]
Script = str | list[Call]
"""What a script answers: a text, or tool calls made in one turn as (tool name, arguments)."""

answered: list[str] = []
"""Each member id, every time that member answered its task (the check that the members really ran)."""
appended: list[str] = []
"""Every item an append tool was called with (the check that the framework really ran the tool)."""


def coordinator_reply(roles: list[str]) -> Script:
    """The coordinator: one delegation to each member in one turn, then the answer."""
    if roles[-1] == "user":
        return [(DELEGATE, {"member_id": m, "task": f"Do part {m} of the work."}) for m in MEMBER_IDS]
    return ANSWER


def member_reply(member_id: str, tool: str | None, roles: list[str]) -> Script:
    """A member: ``APPENDS`` calls of ``tool`` in one turn (unless None), then its answer."""
    if roles[-1] == "user" and tool is not None:
        return [(tool, {"item": f"{member_id}-{i}"}) for i in range(APPENDS)]
    answered.append(member_id)
    return f"{member_id} done."


def append_in_place(state: dict[str, Any], item: str) -> str:
    """The body of both frameworks' ``append_item``: ``state["items"].append(item)``."""
    appended.append(item)
    state.setdefault("items", []).append(item)
    return "ok"


def append_copy(state: dict[str, Any], item: str) -> str:
    """The body of both frameworks' ``append_item_copy``: ``state["items"] = [*state["items"], item]``."""
    appended.append(item)
    state["items"] = [*state.get("items", []), item]
    return "ok"


@dataclass(frozen=True)
class Teams:
    """How a worker builds, runs and reads back its framework's teams."""

    team: Callable[[Store | None, str | None], Any]
    """``team(store, tool)``: the coordinator and four members whose script calls ``tool`` (None: no
    tool, they answer at once); store None: no db; else the team's db, ``session_state={"items": []}``."""
    arun: Callable[[Any, str | None], Awaitable[str]]
    """``arun(team, session_id)``: one run (session_id None: the team's own); its content."""
    read: Callable[[Any, str], Awaitable[list[str]]]
    """``read(team, session_id)``: the stored ``session_state["items"]``, read through the team's db."""
    close: Callable[[Any], Awaitable[None]]
    """Release the team's store (its engine and connections)."""


FANOUT_WARMUP = 5
FANOUT_RUNS_PER_REPEAT = 5


async def _checked(fw: Teams, team: Any, session_id: str | None, calls: int) -> None:
    """One run, checked: the answer, each member answering once, the tool running ``calls`` times."""
    members, items = len(answered), len(appended)
    content = await fw.arun(team, session_id)
    if content != ANSWER:
        raise SystemExit(f"unexpected answer {content!r}")
    if sorted(answered[members:]) != list(MEMBER_IDS):
        raise SystemExit(f"the members that answered: {answered[members:]}")
    if len(appended) - items != calls:
        raise SystemExit(f"the tool ran {len(appended) - items} times, not {calls}")


def measure_fanout(fw: Teams, repeat: int) -> dict[str, float]:
    """Median ms of one team run: 2 coordinator turns, 4 members answering in parallel; no db."""
    team = fw.team(None, None)

    async def runs() -> list[float]:
        for _ in range(FANOUT_WARMUP):
            await _checked(fw, team, None, 0)
        times: list[float] = []
        for _ in range(repeat * FANOUT_RUNS_PER_REPEAT):
            members = len(answered)
            start = time.perf_counter()
            await fw.arun(team, None)
            times.append(time.perf_counter() - start)
            if len(answered) - members != len(MEMBER_IDS):
                raise SystemExit(f"{len(answered) - members} members answered, not {len(MEMBER_IDS)}")
        return times

    return {"fanout_ms": statistics.median(asyncio.run(runs())) * 1000}


@contextlib.contextmanager
def fresh_store(backend: str, name: str) -> Iterator[Store]:
    """A new SQLite file in a temporary directory, or a new PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield Store("sqlite", db_file=Path(tmp) / "bench.db")
        return
    schema = f"bench_team_{name}_{uuid.uuid4().hex[:8]}"
    try:
        yield Store("postgres", db_url=PG_URL, schema=schema)
    finally:
        _drop_schema(schema)


def measure_append(fw: Teams, backend: str, repeat: int, name: str) -> dict[str, float]:
    """Items kept in the store after one run of 4 members adding items in parallel, per tool."""
    expected = {f"{m}-{i}" for m in MEMBER_IDS for i in range(APPENDS)}

    async def repetition(store: Store, tool: str) -> int:
        team = fw.team(store, tool)
        try:
            await _checked(fw, team, "shared", len(expected))
            items = await fw.read(team, "shared")
        finally:
            await fw.close(team)
        if len(set(items)) != len(items) or not set(items) <= expected:
            print(f"{name} {tool}: the stored state holds unexpected items: {items}", file=sys.stderr)
        return len(items)

    results: dict[str, float] = {"attempted": len(expected)}
    for prefix, tool in TOOLS.items():
        kept: list[int] = []
        for _ in range(repeat):
            with fresh_store(backend, name) as store:
                kept.append(asyncio.run(repetition(store, tool)))
        results |= {
            f"{prefix}items": statistics.median(kept),
            f"{prefix}items_min": min(kept),
            f"{prefix}items_max": max(kept),
        }
    return results


def main(fw: Teams, name: str) -> None:
    """``worker.py {fanout,sqlite,postgres} REPEAT``: take one measure and print its results as JSON."""
    measures = ("fanout", "sqlite", "postgres")
    if len(sys.argv) != 3 or sys.argv[1] not in measures:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(measures)}}} REPEAT")
    measure, repeat = sys.argv[1], int(sys.argv[2])
    results = measure_fanout(fw, repeat) if measure == "fanout" else measure_append(fw, measure, repeat, name)
    print(json.dumps(results))
