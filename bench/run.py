"""Run every benchmark and print one table: Kern beside the peer (agno) where the peer has the feature.

Usage: ``make bench`` (or ``.venv/bin/python bench/run.py [--repeat N]``). The machine is small and
noisy, so each figure is the median of several runs; compare ratios, not absolute times. The peer runs
from its own virtualenv (``bench/.venv-agno``), created on first use with agno from the package index.
The Agent rows run ``agent_kern.py`` / ``agent_agno.py`` (one fresh interpreter per framework and
measure; what they measure is in ``_agent_common.py``) and collect the JSON they print; the contention
rows run ``contention_kern.py`` / ``contention_agno.py`` the same way (``_contention_common.py``), on
SQLite and, when the server answers, on PostgreSQL (``KERN_BENCH_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; each repetition in a fresh schema, dropped after);
the team rows run ``team_kern.py`` / ``team_agno.py`` (``_team_common.py``): a 4-member parallel fan-out
without a db, and the items 4 members appending in parallel keep in the team's state, on the same
backends; the workflow rows run ``workflow_kern.py`` / ``workflow_agno.py`` (``_workflow_common.py``):
a workflow of 100 function steps, run without a db and on the same backends (one worker per backend
times both). ``--only GROUP`` (repeatable) runs some groups of rows only.

The last column is a ratio that reads the same way on every row: above 1 means Kern is better. It is
agno / kern for times and sizes (lower is better), kern / agno for runs/s (higher is better), and n/a
for counts (items, runs, sessions), which are shown side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Better = Literal["lower", "higher", "count"]

BENCH_DIR = Path(__file__).resolve().parent
PEER_VENV = BENCH_DIR / ".venv-agno"
PEER_PACKAGES = ["agno", "sqlalchemy[asyncio]", "aiosqlite", "psycopg[binary]", "psycopg-pool"]
PEER_MODULES = "agno, sqlalchemy, aiosqlite, psycopg, psycopg_pool"
"""What ``PEER_PACKAGES`` provide: an existing peer venv lacking one of them gets them installed."""
PG_URL = os.environ.get("KERN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Row:
    """One line of the table: a measure, Kern's median, the peer's median (None: not measured).

    ``better`` says how the ratio column reads it: "lower" (times, sizes: agno / kern), "higher"
    (throughput: kern / agno), "count" (no ratio; the figures are counts).
    """

    name: str
    unit: str
    kern: float
    peer: float | None
    better: Better = "lower"


def peer_python() -> Path | None:
    """The peer's interpreter, installing agno into its own virtualenv if needed; None if impossible."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", f"import {PEER_MODULES}"], check=False, capture_output=True)
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES]
        result = subprocess.run(pip, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"peer not measured: installing agno failed:\n{result.stderr}", file=sys.stderr)
            return None
    return python


def import_seconds(python: str | Path, module: str, repeat: int) -> float:
    """Median wall time of a fresh interpreter importing ``module``, minus a bare interpreter's."""
    env = {**os.environ, "AGNO_TELEMETRY": "false"}

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([str(python), "-c", code], check=True, env=env)
        return time.perf_counter() - start

    bare: list[float] = []
    full: list[float] = []
    for _ in range(repeat):  # interleaved, so that a change of load on the machine hits both alike
        bare.append(once("pass"))
        full.append(once(f"import {module}"))
    return statistics.median(full) - statistics.median(bare)


def import_rows(repeat: int, peer: Path | None) -> list[Row]:
    """``import kern`` (and the SQLite store face) against the peer's equivalents."""
    pairs = [("import kern", "kern", "agno"), ("import SQLite store", "kern.db.sqlite", "agno.db.sqlite")]
    return [
        Row(
            name,
            "ms",
            import_seconds(sys.executable, ours, repeat) * 1000,
            import_seconds(peer, theirs, repeat) * 1000 if peer else None,
        )
        for name, ours, theirs in pairs
    ]


def worker_results(
    python: str | Path, worker: str, measure: str, repeat: int, show_stderr: bool = False
) -> dict[str, float] | None:
    """Run ``bench/<worker> MEASURE REPEAT`` in a fresh interpreter and return the JSON it prints.

    None (with the worker's error on stderr) if it failed. ``show_stderr``: pass on what a worker that
    succeeded wrote there (the contention workers list the kinds of their failed runs).
    """
    env = {**os.environ, "AGNO_TELEMETRY": "false"}
    command = [str(python), str(BENCH_DIR / worker), measure, str(repeat)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        print(f"{worker} {measure} failed:\n{result.stderr}{result.stdout}", file=sys.stderr)
        return None
    if show_stderr and result.stderr.strip():
        print(f"{worker} {measure}:\n{result.stderr.rstrip()}", file=sys.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


AGENT_ROWS = [
    # measure, result key, row name, unit
    ("construct", "construct_us", "agent construction (model, 3 tools, instructions)", "µs"),
    ("construct", "construct_kib", "agent memory (per Agent, 1,000 alive)", "KiB"),
    ("run", "run_ms", "2-turn tool run, no DB, `run()`", "ms"),
    ("arun", "arun_ms", "2-turn tool run, no DB, `await arun()`", "ms"),
    ("persisted", "run1_ms", "SQLite, history 3 runs: run 1 of a session", "ms"),
    ("persisted", "run10_ms", "SQLite, history 3 runs: run ~10 of a session", "ms"),
    ("persisted", "run500_ms", "SQLite, history 3 runs: run ~500 of a session", "ms"),
]


def agent_rows(repeat: int, peer: Path | None) -> list[Row]:
    """The Agent measures (see ``_agent_common.py``), each in a fresh interpreter per framework."""
    kern: dict[str, float] = {}
    agno: dict[str, float] = {}
    for measure in dict.fromkeys(measure for measure, *_ in AGENT_ROWS):
        ours = worker_results(sys.executable, "agent_kern.py", measure, repeat)
        if ours is None:
            raise SystemExit(f"Kern's {measure} measure failed")
        kern.update(ours)
        if peer is not None:
            agno.update(worker_results(peer, "agent_agno.py", measure, repeat) or {})
    rows = [Row(name, unit, kern[key], agno.get(key)) for _, key, name, unit in AGENT_ROWS]
    growth = agno["run500_ms"] / agno["run10_ms"] if "run500_ms" in agno else None
    rows.append(
        Row("SQLite: run ~500 / run ~10 (1.00 = flat)", "x", kern["run500_ms"] / kern["run10_ms"], growth)
    )
    return rows


CONTENTION_ROWS: list[tuple[str, str, str, Better]] = [
    # result key, row name (after "50 concurrent runs, "), unit, how the ratio reads
    ("one_runs_s", "one session, {db}: runs/s", "runs/s", "higher"),
    ("one_items", "one session, {db}: items kept (of 50)", "items", "count"),
    ("one_runs", "one session, {db}: runs stored (of 50)", "runs", "count"),
    ("many_runs_s", "50 sessions, {db}: runs/s", "runs/s", "higher"),
    ("many_own", "50 sessions, {db}: sessions holding their own item (of 50)", "sessions", "count"),
    ("failed", "{db}: failed runs (of {attempted})", "runs", "count"),
]


Backend = tuple[str, str]
"""A store the contention, team and workflow rows run on: (worker argument, name in the table)."""


def postgres_reachable() -> bool:
    """Whether the PostgreSQL server answers (else the contention, team and workflow rows skip it)."""
    import sqlalchemy as sa
    from sqlalchemy.exc import OperationalError

    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except OperationalError as exc:
        print(f"PostgreSQL rows skipped: {PG_URL} unreachable: {exc.orig}", file=sys.stderr)
        return False
    finally:
        engine.dispose()
    return True


def backends() -> list[Backend]:
    """SQLite, and PostgreSQL when its server answers."""
    return [("sqlite", "SQLite")] + ([("postgres", "PostgreSQL")] if postgres_reachable() else [])


def contention_rows(repeat: int, peer: Path | None, stores: list[Backend]) -> tuple[list[Row], list[str]]:
    """50 concurrent ``arun`` on one session and on 50 sessions, per backend (``_contention_common``).

    ``repeat // 3`` repetitions (3 to 10), each a fresh store. Also returns notes for under the table:
    where the items kept varied between repetitions.
    """
    rows: list[Row] = []
    notes: list[str] = []
    reps = min(max(3, repeat // 3), 10)
    for backend, db in stores:
        kern = worker_results(sys.executable, "contention_kern.py", backend, reps, show_stderr=True)
        if kern is None:
            raise SystemExit(f"Kern's contention measure on {db} failed")
        agno = worker_results(peer, "contention_agno.py", backend, reps, show_stderr=True) if peer else None
        agno = agno or {}
        for key, name, unit, better in CONTENTION_ROWS:
            label = "50 concurrent runs, " + name.format(db=db, attempted=int(kern["attempted"]))
            rows.append(Row(label, unit, kern[key], agno.get(key), better))
        for who, results in (("kern", kern), ("agno", agno)):
            if results and results["one_items_min"] != results["one_items_max"]:
                low, high = int(results["one_items_min"]), int(results["one_items_max"])
                notes.append(
                    f"{who}, one session, {db}: items kept ranged {low}-{high} over {reps} repetitions"
                )
    return rows, notes


TEAM_APPEND_ROWS = [
    # result key prefix, row name
    ("", "team parallel append (4 members, 25 calls each in one turn), {db}: items kept (of {attempted})"),
    ("copy_", "team parallel append, tool writes a new list back, {db}: items kept (of {attempted})"),
]


def team_rows(repeat: int, peer: Path | None, stores: list[Backend]) -> tuple[list[Row], list[str]]:
    """A 4-member parallel fan-out without a db, and parallel appends to one state (``_team_common``).

    The fan-out is timed like the no-DB agent rows; the appends get ``repeat // 3`` repetitions (3 to
    10) per backend and tool, each a fresh store. Also returns notes: where the items kept varied.
    """
    ours = worker_results(sys.executable, "team_kern.py", "fanout", repeat)
    if ours is None:
        raise SystemExit("Kern's team fan-out measure failed")
    theirs = worker_results(peer, "team_agno.py", "fanout", repeat) if peer else None
    name = "team: 4-member parallel fan-out, no DB, `await arun()`"
    rows = [Row(name, "ms", ours["fanout_ms"], theirs["fanout_ms"] if theirs else None)]
    notes: list[str] = []
    reps = min(max(3, repeat // 3), 10)
    for backend, db in stores:
        kern = worker_results(sys.executable, "team_kern.py", backend, reps, show_stderr=True)
        if kern is None:
            raise SystemExit(f"Kern's team append measure on {db} failed")
        agno = (worker_results(peer, "team_agno.py", backend, reps, show_stderr=True) if peer else None) or {}
        for prefix, row in TEAM_APPEND_ROWS:
            label = row.format(db=db, attempted=int(kern["attempted"]))
            rows.append(Row(label, "items", kern[f"{prefix}items"], agno.get(f"{prefix}items"), "count"))
            for who, results in (("kern", kern), ("agno", agno)):
                if results and results[f"{prefix}items_min"] != results[f"{prefix}items_max"]:
                    low, high = int(results[f"{prefix}items_min"]), int(results[f"{prefix}items_max"])
                    notes.append(f"{who}, {label}: ranged {low}-{high} over {reps} repetitions")
    return rows, notes


def workflow_rows(repeat: int, peer: Path | None, stores: list[Backend]) -> list[Row]:
    """A 100-step workflow of function steps, without a db and on each backend (``_workflow_common``).

    One worker per framework and backend times ``repeat`` rounds (3 to 100) of one run without a db and
    one on the backend; the no-DB row is the SQLite worker's.
    """
    rows: list[Row] = []
    for backend, db in stores:
        kern = worker_results(sys.executable, "workflow_kern.py", backend, repeat)
        if kern is None:
            raise SystemExit(f"Kern's workflow measure on {db} failed")
        agno = (worker_results(peer, "workflow_agno.py", backend, repeat) if peer else None) or {}
        if not rows:
            name = "workflow: 100 function steps, total time, no DB, `await arun()`"
            rows.append(Row(name, "ms", kern["none_ms"], agno.get("none_ms")))
        name = f"workflow: 100 function steps, total time, {db}, `await arun()`"
        rows.append(Row(name, "ms", kern["db_ms"], agno.get("db_ms")))
        name = f"workflow: journal overhead per function step, {db}: (run on {db} - run without DB) / 100"
        rows.append(Row(name, "ms", kern["step_ms"], agno.get("step_ms")))
    return rows


def figure(value: float) -> str:
    """Two decimals below 10, one above."""
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def count(value: float) -> str:
    """A count (or the median of an even number of counts)."""
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def times(ratio: float) -> str:
    """A ratio: two decimals, or two significant figures below 0.1 (so that it never shows 0.00x)."""
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def ratio(row: Row) -> str:
    """The last column: above 1 means Kern better (agno / kern, or kern / agno for throughput)."""
    if row.peer is None or row.better == "count":
        return "n/a"
    over, under = (row.kern, row.peer) if row.better == "higher" else (row.peer, row.kern)
    return times(over / under) if under else "n/a"


def render(rows: list[Row], notes: Sequence[str] = ()) -> str:
    """The table, as Markdown, and the notes under it."""
    header = "| benchmark | unit | kern | agno | > 1: Kern better (agno / kern; runs/s: kern / agno) |"
    lines = [header, "|---|---|---:|---:|---:|"]
    for row in rows:
        shown = count if row.better == "count" else figure
        peer = shown(row.peer) if row.peer is not None else "n/a"
        lines.append(f"| {row.name} | {row.unit} | {shown(row.kern)} | {peer} | {ratio(row)} |")
    lines += ["", *(f"* {note}" for note in notes)] if notes else []
    return "\n".join(lines)


GROUPS = ["import", "agent", "contention", "team", "workflow"]


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeat",
        type=int,
        default=15,
        help="samples per measure, medians reported: interpreters per import row, 200x constructions, "
        "20x runs, 5x team fan-outs, rounds of the SQLite rows (5 to 100), /3 bursts of the contention "
        "rows and team appends (3 to 10), rounds of the workflow rows (3 to 100)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (agno)")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="run only this group of rows (repeatable)"
    )
    args = parser.parse_args()
    peer = None if args.no_peer else peer_python()
    groups = args.only or GROUPS
    stores = backends() if {"contention", "team", "workflow"} & set(groups) else []
    rows: list[Row] = []
    notes: list[str] = []
    rows += import_rows(args.repeat, peer) if "import" in groups else []
    rows += agent_rows(args.repeat, peer) if "agent" in groups else []
    for group, measure in (("contention", contention_rows), ("team", team_rows)):
        if group in groups:
            more_rows, more_notes = measure(args.repeat, peer, stores)
            rows += more_rows
            notes += more_notes
    rows += workflow_rows(args.repeat, peer, stores) if "workflow" in groups else []
    print(render(rows, notes))


if __name__ == "__main__":
    main()
