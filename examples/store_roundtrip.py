"""A store round-trip: claim a session, change its state, commit, read it back. Run it twice.

The session lives in tmp/kern_demo.db, so each run continues where the last one stopped.
"""

from __future__ import annotations

import uuid

import anyio

from kern.db import RunWrite, SessionType
from kern.db.sqlite import SqliteDb
from kern.models.message import Message
from kern.run import RunStatus
from kern.session import RunRecord
from kern.session.codec import encode_state
from kern.session.patch import diff


async def visit(db: SqliteDb) -> None:
    """One 'run': claim the session, count the visit, commit it with a message, release."""
    run_id = uuid.uuid4().hex
    claim = await db.store.claim(
        "demo", SessionType.AGENT, run_id=run_id, user_id="ava", initial_state={"visits": 0}
    )
    try:
        state = dict(claim.session.session_state)
        state["visits"] += 1
        run = RunRecord(run_id=run_id, session_id="demo", status=RunStatus.completed, input="visit")
        note = Message(role="assistant", content=f"visit number {state['visits']}")
        await db.store.commit(
            claim,
            state_patch=diff(claim.state_snapshot, encode_state(state)),
            writes=[RunWrite(run, [note])],
        )
    finally:
        await db.store.release(claim)


def main() -> None:
    """Visit the demo session once and print what the store holds."""
    with SqliteDb(db_file="tmp/kern_demo.db") as db:
        anyio.run(visit, db)
        session = db.get_session("demo", SessionType.AGENT, user_id="ava")
        assert session is not None
        print(f"session {session.session_id} of {session.user_id}: state={session.session_state}")
        print(f"{len(session.runs)} runs, last message: {session.messages[-1].content}")


if __name__ == "__main__":
    main()
