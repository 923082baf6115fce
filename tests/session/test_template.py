"""{key} templating of instructions from state, dependencies, metadata and the user id."""

from __future__ import annotations

import datetime as dt

from kern.session.template import render


def test_known_keys_are_replaced() -> None:
    """A key found in a source is replaced by its value; strings as they are."""
    assert render("Hello {name}", {"name": "Ann"}) == "Hello Ann"


def test_non_string_values_render_as_json() -> None:
    """Lists, dicts and dates render as JSON text."""
    text = render(
        "{items} {prefs} {due}", {"items": ["a", 1], "prefs": {"x": True}, "due": dt.date(2026, 1, 2)}
    )
    assert text == '["a",1] {"x":true} "2026-01-02"'


def test_unknown_keys_stay_literal() -> None:
    """A key no source has is left exactly as written."""
    assert render("{missing} and {present}", {"present": 1}) == "{missing} and 1"


def test_doubled_braces_escape() -> None:
    """{{ and }} stand for literal braces and are not looked up."""
    assert render("{{name}} is {name}", {"name": "x"}) == "{name} is x"


def test_earlier_sources_win() -> None:
    """State is looked up before dependencies."""
    assert render("{k}", {"k": "state"}, {"k": "deps"}) == "state"


def test_json_looking_text_is_left_alone() -> None:
    """Braces that do not enclose a plain key (JSON examples in instructions) are not touched."""
    assert render('{"a": 1} {a b}', {"a": 2}) == '{"a": 1} {a b}'
