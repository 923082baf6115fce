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


def _modules() -> list[str]:
    """Every module of the package, except Alembic's env script (Alembic runs it, nobody imports it)."""
    import pkgutil

    import kern

    found = [info.name for info in pkgutil.walk_packages(kern.__path__, "kern.")]
    return ["kern", *sorted(name for name in found if name != "kern.db.migrations.env")]


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Each module of kern can be the first Kern import of a process (no import cycle at any entry)."""
    from concurrent.futures import ThreadPoolExecutor

    def failure(module: str) -> str | None:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        return f"{module}: {lines[-1] if lines else done.returncode}" if done.returncode else None

    modules = _modules()
    assert "kern.session.summary" in modules
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(failure, modules) if f is not None]
    assert failures == []
