"""Run every benchmark and print one table: Kern beside the peer (agno) where the peer has the feature.

Usage: ``make bench`` (or ``.venv/bin/python bench/run.py [--repeat N]``). The machine is small and
noisy, so each figure is the median of several runs; compare ratios, not absolute times. The peer runs
from its own virtualenv (``bench/.venv-agno``), created on first use with agno from the package index.
"""

from __future__ import annotations

import argparse
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

    bare = statistics.median(once("pass") for _ in range(repeat))
    full = statistics.median(once(f"import {module}") for _ in range(repeat))
    return full - bare


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


def render(rows: list[Row]) -> str:
    """The table, as Markdown."""
    lines = ["| benchmark | unit | kern | agno | agno / kern |", "|---|---|---:|---:|---:|"]
    for row in rows:
        peer = f"{row.peer:.1f}" if row.peer is not None else "n/a"
        ratio = f"{row.peer / row.kern:.2f}x" if row.peer is not None and row.kern else "n/a"
        lines.append(f"| {row.name} | {row.unit} | {row.kern:.1f} | {peer} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="runs per measure (median reported)")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (agno)")
    args = parser.parse_args()
    peer = None if args.no_peer else peer_python()
    print(render(import_rows(args.repeat, peer)))


if __name__ == "__main__":
    main()
