"""Stores for Agent tests: the sync faces of every backend (they serve sync and async runs alike)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kern.db.base import SyncDb
from kern.db.in_memory import InMemoryDb
from kern.db.postgres import PostgresDb
from kern.db.sqlite import SqliteDb


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def agent_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncDb]:
    """A fresh store on each backend."""
    if request.param == "memory":
        db: SyncDb = InMemoryDb()
    elif request.param == "sqlite":
        db = SqliteDb(db_file=tmp_path / "agents.db")
    else:
        db = PostgresDb(
            db_url=request.getfixturevalue("pg_url"), db_schema=request.getfixturevalue("pg_schema")
        )
    yield db
    db.close()
