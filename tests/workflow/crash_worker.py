"""An OS process running a 5-step workflow, for tests/workflow/test_resume.py.

Usage: python crash_worker.py DB_URL DB_SCHEMA|- SESSION_ID COUNTER_FILE run|kill|resume [RUN_ID]

Every step appends its name to COUNTER_FILE (so the test can count how often each ran) and to the
state's ``items``. ``kill``: step 3 appends, prints "in-step-3" and SIGKILLs its own process before
returning. ``resume RUN_ID`` resumes that run. Both ``run`` and ``resume`` print the final state.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from kern.db.base import SyncDb
from kern.db.postgres import PostgresDb
from kern.db.sqlite import SqliteDb
from kern.workflow import Step, StepInput, Workflow


def build(db: SyncDb, session_id: str, counter: Path, kill: bool) -> Workflow:
    def step(n: int) -> Step:
        def run(step_input: StepInput, session_state: dict[str, Any]) -> str:
            with counter.open("a") as f:
                f.write(f"{n}\n")
            session_state.setdefault("items", []).append(f"step-{n}")
            session_state["last"] = f"{step_input.previous_step_content}>{n}"
            if n == 3 and kill:
                print("in-step-3", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return str(n)

        return Step(name=f"step-{n}", executor=run)

    return Workflow(
        name="five",
        db=db,
        session_id=session_id,
        session_state={"items": []},
        lease_seconds=1.0,
        busy_timeout=30,
        steps=[step(n) for n in range(1, 6)],
    )


def main() -> None:
    url, schema, session_id, counter, mode = sys.argv[1:6]
    db: SyncDb = SqliteDb(db_url=url) if url.startswith("sqlite") else PostgresDb(url, db_schema=schema)
    with db:
        workflow = build(db, session_id, Path(counter), kill=mode == "kill")
        output = workflow.resume(sys.argv[6]) if mode == "resume" else workflow.run("go")
        print(json.dumps(output.session_state), flush=True)


if __name__ == "__main__":
    main()
