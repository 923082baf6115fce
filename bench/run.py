"""Run every benchmark and print one table: Kern beside the peer (agno) where the peer has the feature.

Usage: ``make bench`` (or ``.venv/bin/python bench/run.py [--repeat N]``). The machine is small and
noisy, so each figure is the median of several runs; compare ratios, not absolute times. The peer runs
from its own virtualenv (``bench/.venv-agno``), created on first use with agno from the package index.
The Agent rows run ``agent_kern.py`` / ``agent_agno.py`` (one fresh interpreter per framework and
measure; what they measure is in ``_agent_common.py``) and collect the JSON they print.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEER_VENV = BENCH_DIR / ".venv-agno"
PEER_PACKAGES = ["agno", "sqlalchemy[asyncio]"]


@dataclass
class Row:
    """One line of the table: a measure, Kern's median, the peer's median (None: not measured)."""

    name: str
    unit: str
    kern: float
    peer: float | None


def peer_python() -> Path | None:
    """The peer's interpreter, installing agno into its own virtualenv if needed; None if impossible."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
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


def worker_results(python: str | Path, worker: str, measure: str, repeat: int) -> dict[str, float] | None:
    """Run ``bench/<worker> MEASURE REPEAT`` in a fresh interpreter and return the JSON it prints.

    None (with the worker's error on stderr) if it failed.
    """
    env = {**os.environ, "AGNO_TELEMETRY": "false"}
    command = [str(python), str(BENCH_DIR / worker), measure, str(repeat)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        print(f"{worker} {measure} failed:\n{result.stderr}{result.stdout}", file=sys.stderr)
        return None
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


def figure(value: float) -> str:
    """Two decimals below 10, one above."""
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def times(ratio: float) -> str:
    """A ratio: two decimals, or two significant figures below 0.1 (so that it never shows 0.00x)."""
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def render(rows: list[Row]) -> str:
    """The table, as Markdown."""
    lines = ["| benchmark | unit | kern | agno | agno / kern |", "|---|---|---:|---:|---:|"]
    for row in rows:
        peer = figure(row.peer) if row.peer is not None else "n/a"
        ratio = times(row.peer / row.kern) if row.peer is not None and row.kern else "n/a"
        lines.append(f"| {row.name} | {row.unit} | {figure(row.kern)} | {peer} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeat",
        type=int,
        default=15,
        help="samples per measure, medians reported: interpreters per import row, 200x constructions, "
        "20x runs, rounds of the SQLite rows (5 to 100)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (agno)")
    args = parser.parse_args()
    peer = None if args.no_peer else peer_python()
    print(render(import_rows(args.repeat, peer) + agent_rows(args.repeat, peer)))


if __name__ == "__main__":
    main()
