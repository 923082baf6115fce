"""Alembic migrations of Kern's store (run by ``kern db upgrade`` and on first use of an empty store)."""
