"""What ``import kern`` and the store faces pull in (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(statement: str, modules: list[str]) -> list[str]:
    """The subset of ``modules`` present in sys.modules after running ``statement`` in a new interpreter."""
    code = f"{statement}\nimport sys\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return out.split()


def test_import_kern_loads_no_provider_sdk() -> None:
    """``import kern`` imports neither litellm nor openai nor httpx."""
    assert loaded_after("import kern", ["litellm", "openai", "httpx"]) == []


def test_store_faces_load_no_migration_tool() -> None:
    """Opening the SQLite face imports neither Alembic nor litellm; they load only when needed."""
    assert loaded_after("import kern.db.sqlite", ["alembic", "litellm"]) == []
