"""Tests for kern.tools.docstring: reading Google-style docstrings for the model."""

from __future__ import annotations

from kern.tools.docstring import Docstring, parse_docstring


def test_none_and_blank_are_empty() -> None:
    """No docstring, or a blank one, gives an empty description and no arguments."""
    assert parse_docstring(None) == Docstring()
    assert parse_docstring("  \n ") == Docstring()


def test_plain_docstring_is_all_description() -> None:
    """A docstring without sections is entirely description, whitespace normalised."""
    assert parse_docstring("  Add   an item\n    to the list.  ").description == "Add an item to the list."


def test_indented_docstring_is_dedented() -> None:
    """The usual indented body of a method docstring parses like a flush one."""
    doc = """Fetch a page.

        Args:
            url: The address.
        """
    assert parse_docstring(doc) == Docstring("Fetch a page.", {"url": "The address."})


def test_argument_aliases_of_args() -> None:
    """``Arguments:`` and ``Parameters:`` are read like ``Args:``."""
    assert parse_docstring("X.\n\nArguments:\n    a: one\n").arguments == {"a": "one"}
    assert parse_docstring("X.\n\nParameters:\n    b: two\n").arguments == {"b": "two"}


def test_entry_text_on_the_following_lines() -> None:
    """An entry whose text starts on the next line gets that text."""
    doc = "X.\n\nArgs:\n    query:\n        What to find.\n"
    assert parse_docstring(doc).arguments == {"query": "What to find."}


def test_sections_after_args_do_not_leak_into_entries() -> None:
    """The last entry of ``Args:`` stops at the next section header."""
    doc = "X.\n\nArgs:\n    a: one.\n\nReturns:\n    Everything.\n"
    assert parse_docstring(doc).arguments == {"a": "one."}


def test_star_entries_are_read_by_name() -> None:
    """``*args``/``**kwargs`` entries are keyed by their bare name (they never match a tool parameter)."""
    assert parse_docstring("X.\n\nArgs:\n    **options: extra.\n").arguments == {"options": "extra."}


def test_unknown_heading_is_description_text() -> None:
    """A line like ``Usage:`` that is not a known section stays in the description."""
    assert parse_docstring("Does things.\nUsage:\nrun it.").description == "Does things. Usage: run it."
