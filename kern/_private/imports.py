"""Finding a Python object by its import path, ``module:attr`` (``module:obj.attr`` for a chain).

YAML workflows name their functions, agents and teams this way, and ``kern workflow`` names a Python
workflow so. Whatever goes wrong (a malformed path, a module that is missing or fails to import, an
attribute it lacks) is one :class:`~kern.exceptions.UsageError` that says which and why.
"""

from __future__ import annotations

import importlib
from typing import Any

from kern.exceptions import UsageError


def is_import_path(text: str) -> bool:
    """Whether ``text`` has the shape ``module.sub:attr.chain`` (identifiers around one colon)."""
    module, sep, attr = text.partition(":")
    return bool(sep) and _dotted(module) and _dotted(attr)


def import_object(path: str) -> Any:
    """The object ``path`` (``module:attr``) names; UsageError saying what failed."""
    if not is_import_path(path):
        raise UsageError(f"expected an import path 'module:attr', got {path!r}")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        reason = f"no module named {exc.name!r}" if exc.name else str(exc)
        raise UsageError(f"cannot import {path!r} ({reason})") from exc
    except Exception as exc:  # the user's module failed to import: say so, chained
        raise UsageError(
            f"cannot import {path!r} (importing {module_name!r} raised {type(exc).__name__}: {exc})"
        ) from exc
    found: Any = module
    where = module_name
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise UsageError(f"cannot import {path!r} ({where!r} has no attribute {part!r})") from None
        where = f"{where}.{part}"
    return found


def _dotted(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))
