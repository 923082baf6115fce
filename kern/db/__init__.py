"""Storage: one SQLAlchemy implementation behind SQLite, PostgreSQL and in-memory faces.

Import the face you need from its module (``kern.db.sqlite``, ``kern.db.postgres``,
``kern.db.in_memory``) so that only its driver is loaded.
"""

from kern.db.base import AsyncDb, BaseDb, SyncDb
from kern.db.records import Claim, RunWrite
from kern.db.store import SessionStore
from kern.session.schema import SessionType

__all__ = ["AsyncDb", "BaseDb", "Claim", "RunWrite", "SessionStore", "SessionType", "SyncDb"]
