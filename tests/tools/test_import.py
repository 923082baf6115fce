"""``import kern.tools`` stays cheap: user code imports it at module level to write ``@tool``."""

from __future__ import annotations

import subprocess
import sys


def test_import_kern_tools_loads_no_provider_sdk_or_database() -> None:
    """``import kern.tools`` imports neither a model provider SDK nor the database layer."""
    heavy = ["litellm", "openai", "httpx", "sqlalchemy", "alembic", "rich"]
    code = f"import kern.tools, sys; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == []
