"""``{key}`` templating of instructions and descriptions from session state (DESIGN.md §4).

Rendered before every model call, so a tool's change to the state shows on the next turn. A key is
looked up in each source in turn (state, then dependencies, metadata, the user id); unknown keys stay
as written, and ``{{``/``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kern.session.state import to_json_text

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(text: str, *sources: Mapping[str, object]) -> str:
    """``text`` with every ``{key}`` found in ``sources`` replaced by its value."""

    def replace(match: re.Match[str]) -> str:
        token, key = match.group(0), match.group(1)
        if key is None:
            return token[0]
        for source in sources:
            if key in source:
                value = source[key]
                return value if isinstance(value, str) else to_json_text(value)
        return token

    return _TOKEN.sub(replace, text)
