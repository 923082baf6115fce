"""One OS process of tests/db/test_concurrency.py: claim, append one item, commit and release, N times.

Usage: python commit_worker.py DB_URL DB_SCHEMA|- SESSION_ID PROC COUNT

Even-numbered processes use the sync face's store, odd ones the async face, so both drive one session.
"""

from __future__ import annotations

import sys

import anyio

from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.db.postgres import AsyncPostgresDb, PostgresDb
from kern.db.records import RunWrite
from kern.session.patch import diff
from kern.session.schema import RunRecord, SessionType
from kern.session.status import RunStatus


def open_db(url: str, schema: str | None, use_async: bool) -> BaseDb:
    if url.startswith("sqlite"):
        from kern.db.sqlite import AsyncSqliteDb, SqliteDb

        return AsyncSqliteDb(db_url=url) if use_async else SqliteDb(db_url=url)
    return AsyncPostgresDb(url, db_schema=schema) if use_async else PostgresDb(url, db_schema=schema)


async def work(url: str, schema: str | None, session_id: str, proc: int, count: int) -> None:
    db = open_db(url, schema, use_async=proc % 2 == 1)
    try:
        for i in range(count):
            run_id = f"{proc}-{i}"
            claim = await db.store.claim(
                session_id, SessionType.AGENT, run_id=run_id, on_busy="wait", busy_timeout=60
            )
            state = claim.state_snapshot
            items = state.get("items", [])
            assert isinstance(items, list)
            patch = diff(state, {**state, "items": [*items, run_id]})
            run = RunRecord(run_id=run_id, session_id=session_id, status=RunStatus.completed)
            await db.store.commit(claim, state_patch=patch, writes=[RunWrite(run)])
            if not await db.store.release(claim):
                raise SystemExit(f"run {run_id} lost its claim before releasing it")
    finally:
        if isinstance(db, AsyncDb):
            await db.close()
        elif isinstance(db, SyncDb):
            db.close()


if __name__ == "__main__":
    db_url, db_schema, sid, proc_arg, count_arg = sys.argv[1:]
    anyio.run(work, db_url, None if db_schema == "-" else db_schema, sid, int(proc_arg), int(count_arg))
