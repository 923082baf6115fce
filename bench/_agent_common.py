"""What both agent workers share: the tools, the script, and how every agent measure is taken.

Standard library only: it is imported by ``agent_kern.py`` (project venv) and by ``agent_agno.py``
(``bench/.venv-agno``). A worker describes its framework with a :class:`Framework` and calls
:func:`main`, which runs one measure and prints its results as one JSON object on stdout::

    python bench/agent_kern.py run 15    ->    {"run_ms": 14.2}

Every measure first checks, outside timing, that the agent really ran the tool and answered with the
scripted text, and at the end that the tool ran exactly once per timed run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTRUCTIONS = "You are a concise travel assistant. Use the tools when they help."
PROMPT = "What is the weather in Paris?"
CITY = "Paris"
ANSWER = "It is sunny and 21 degrees in Paris."
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = {"city": CITY}

# --- the three tools: plain functions with docstrings ---------------------------------------------------

tool_cities: list[str] = []
"""Every city get_weather was called with (the check that the framework really ran the tool)."""


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The name of the city.
    """
    tool_cities.append(city)
    return f"sunny, 21 degrees in {city}"


def get_local_time(city: str, twenty_four_hour: bool = True) -> str:
    """Get the local time in a city.

    Args:
        city: The name of the city.
        twenty_four_hour: Whether to use the 24-hour clock.
    """
    return "14:00" if twenty_four_hour else "2:00 PM"


def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert an amount of money between two currencies.

    Args:
        amount: The amount to convert.
        from_currency: The ISO code of the currency to convert from.
        to_currency: The ISO code of the currency to convert to.
    """
    return round(amount * 1.1, 2)


TOOLS = [get_weather, get_local_time, convert_currency]

# --- the script: both scripted models answer with these ----------------------------------------------------

last_request_size: list[int] = [0]
"""How many messages the scripted model was sent last (both frameworks must send the same)."""


def wants_tool_call(roles: list[str]) -> bool:
    """The script: call the tool when the last message is the user's, else answer with text."""
    last_request_size[0] = len(roles)
    return roles[-1] == "user"


Reply = str | tuple[str, dict[str, Any]]
"""What a script answers: a text, or a tool call as (tool name, arguments)."""


def weather_reply(roles: list[str], user_text: str) -> Reply:
    """The agent measures' script, framework-neutral: ``get_weather(city="Paris")``, then the answer."""
    return (TOOL_NAME, TOOL_ARGUMENTS) if wants_tool_call(roles) else ANSWER


# --- the framework under test ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Framework:
    """How a worker builds and runs its framework's agents; every callable returns the run's content."""

    construct: Callable[[], Any]
    """An Agent with the scripted model, the three tools and the instructions, other options default."""
    agent: Callable[..., Any]
    """``agent(db_file=None, history=False)``: an Agent for runs (no db: the framework's default)."""
    run: Callable[[Any, str | None], str]
    """``run(agent, session_id)``: one sync run (session_id None: the agent's own); its content."""
    arun: Callable[[Any, str | None], Awaitable[str]]
    """``arun(agent, session_id)``: the same, awaited."""


# --- the measures ---------------------------------------------------------------------------------------

CONSTRUCT_BATCH = 200  # constructions timed per --repeat
MEMORY_AGENTS = 1000  # agents kept alive for the memory figure
RUN_WARMUP = 20
RUNS_PER_REPEAT = 20  # timed runs per --repeat
SESSION_RUNS = 500


def measure_construct(fw: Framework, repeat: int) -> dict[str, float]:
    """Median µs per construction, timed one by one, and KiB per Agent with 1,000 alive (tracemalloc).

    Agents are kept alive during a batch so that freeing them (and the garbage collector) is not timed.
    """
    fw.construct()
    times: list[int] = []
    for _ in range(repeat):
        batch: list[Any] = [None] * CONSTRUCT_BATCH
        for i in range(CONSTRUCT_BATCH):
            start = time.perf_counter_ns()
            batch[i] = fw.construct()
            times.append(time.perf_counter_ns() - start)
        del batch
        gc.collect()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    agents = [fw.construct() for _ in range(MEMORY_AGENTS)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(agents) == MEMORY_AGENTS
    return {
        "construct_us": statistics.median(times) / 1000,
        "construct_kib": (after - before) / 1024 / MEMORY_AGENTS,
    }


def measure_run(fw: Framework, repeat: int) -> dict[str, float]:
    """Median ms of one 2-turn tool run (sync ``run``), no db, no history, after warm-up runs."""
    agent = fw.agent()
    _check(lambda: fw.run(agent, None))
    times = _timed_runs(lambda: fw.run(agent, None), RUN_WARMUP, repeat * RUNS_PER_REPEAT)
    return {"run_ms": statistics.median(times) * 1000}


def measure_arun(fw: Framework, repeat: int) -> dict[str, float]:
    """The same as ``run`` with ``await agent.arun(...)``, all runs in one event loop."""
    agent = fw.agent()

    async def main() -> list[float]:
        _check_content(await _counted(lambda: fw.arun(agent, None)))
        total = RUN_WARMUP + repeat * RUNS_PER_REPEAT
        calls = len(tool_cities)
        times: list[float] = []
        for _ in range(total):
            start = time.perf_counter()
            await fw.arun(agent, None)
            times.append(time.perf_counter() - start)
        _check_count(calls, total)
        return times[RUN_WARMUP:]

    return {"arun_ms": statistics.median(asyncio.run(main())) * 1000}


def measure_persisted(fw: Framework, repeat: int) -> dict[str, float]:
    """Runs on one SQLite file with history (3 runs): run 1, run ~10 and run ~500 of a session.

    A warm-up session creates the tables. A "long" session gets its first ``500 - N`` runs untimed and a
    "short" one its first 5 (N = ``repeat``, 5 to 100). Then N rounds, each timing one run of three
    sessions back to back, so that load on the machine hits all three alike: the next run of "long"
    (runs 501-N..500), the next run of "short" (runs 6..5+N, the history window is full from run 4), and
    run 1 of a fresh session. Each figure is the median of its N runs.
    """
    rounds = min(max(5, repeat), 100)
    first: list[float] = []
    short: list[float] = []
    long: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        agent = fw.agent(db_file=Path(tmp) / "bench.db", history=True)
        _check(lambda: fw.run(agent, "warm-up"))
        _timed_runs(lambda: fw.run(agent, "warm-up"), 0, 4)
        _timed_runs(lambda: fw.run(agent, "short"), 0, 5)
        _timed_runs(lambda: fw.run(agent, "long"), 0, SESSION_RUNS - rounds)
        for i in range(rounds):
            _check(lambda: fw.run(agent, "long"), timings=long)
            if last_request_size[0] != 16:  # system, 3 runs of history (4 messages each), user, call, result
                run = SESSION_RUNS - rounds + len(long)
                raise SystemExit(f"run {run} sent {last_request_size[0]} messages to the model, not 16")
            _check(lambda: fw.run(agent, "short"), timings=short)
            _check(lambda i=i: fw.run(agent, f"fresh-{i}"), timings=first)
    return {
        "run1_ms": statistics.median(first) * 1000,
        "run10_ms": statistics.median(short) * 1000,
        "run500_ms": statistics.median(long) * 1000,
    }


MEASURES: dict[str, Callable[[Framework, int], dict[str, float]]] = {
    "construct": measure_construct,
    "run": measure_run,
    "arun": measure_arun,
    "persisted": measure_persisted,
}


def main(fw: Framework) -> None:
    """``worker.py MEASURE REPEAT``: take one measure and print its results as JSON."""
    if len(sys.argv) != 3 or sys.argv[1] not in MEASURES:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(MEASURES)}}} REPEAT")
    print(json.dumps(MEASURES[sys.argv[1]](fw, int(sys.argv[2]))))


# --- helpers --------------------------------------------------------------------------------------------


def _timed_runs(run: Callable[[], object], warmup: int, count: int) -> list[float]:
    """Seconds per run of ``count`` runs after ``warmup`` untimed ones; checks the tool ran every time."""
    calls = len(tool_cities)
    for _ in range(warmup):
        run()
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    _check_count(calls, warmup + count)
    return times


def _check(run: Callable[[], str], timings: list[float] | None = None) -> None:
    """Run once (timed into ``timings`` if given); check the tool ran once and the answer is the script."""
    calls = len(tool_cities)
    start = time.perf_counter()
    content = run()
    if timings is not None:
        timings.append(time.perf_counter() - start)
    _check_count(calls, 1)
    _check_content(content)


async def _counted(arun: Callable[[], Awaitable[str]]) -> str:
    calls = len(tool_cities)
    content = await arun()
    _check_count(calls, 1)
    return content


def _check_count(before: int, runs: int) -> None:
    if len(tool_cities) != before + runs or tool_cities[-1:] != [CITY]:
        raise SystemExit(f"the tool ran {len(tool_cities) - before} times in {runs} runs")


def _check_content(content: str) -> None:
    if content != ANSWER:
        raise SystemExit(f"unexpected answer {content!r}")
