"""Tests for kern.tools.result.format_result: the text a model reads for a tool's return value."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid

import pytest
from pydantic import BaseModel

from kern.tools import format_result


class Task(BaseModel):
    title: str
    done: bool = False


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Unknown:
    def __str__(self) -> str:
        return "<unknown>"


class Size(enum.Enum):
    BIG = "big"


def test_str_unchanged() -> None:
    """A string is returned exactly, with no JSON quoting."""
    assert format_result('line "one"\nline two') == 'line "one"\nline two'


def test_none_is_empty() -> None:
    """None becomes the empty string."""
    assert format_result(None) == ""


def test_pydantic_model_is_json() -> None:
    """A pydantic model is its JSON."""
    assert format_result(Task(title="review")) == '{"title":"review","done":false}'


def test_dataclass_instance_is_json() -> None:
    """A dataclass instance is its JSON."""
    assert format_result(Point(1, 2)) == '{"x":1,"y":2}'


def test_dict_is_json_with_nested_values() -> None:
    """A dict is JSON, nested models and JSON-able values included."""
    value = {"tasks": [Task(title="a")], "when": dt.date(2024, 5, 1), "size": Size.BIG}
    assert format_result(value) == '{"tasks":[{"title":"a","done":false}],"when":"2024-05-01","size":"big"}'


@pytest.mark.parametrize(
    ("value", "text"), [([1, "a"], '[1,"a"]'), ((1, 2), "[1,2]"), (frozenset({3}), "[3]")]
)
def test_sequences_and_sets_are_json_arrays(value: object, text: str) -> None:
    """Lists, tuples and sets are JSON arrays."""
    assert format_result(value) == text


def test_non_ascii_is_kept_readable() -> None:
    """Non-ASCII text in JSON is written as is, not as escapes."""
    assert format_result({"name": "Zoë"}) == '{"name":"Zoë"}'


def test_value_json_cannot_hold_falls_back_to_str() -> None:
    """Inside JSON, a value with no JSON form is written with ``str``, not an error."""
    assert format_result({"thing": Unknown()}) == '{"thing":"<unknown>"}'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42, "42"),
        (1.5, "1.5"),
        (True, "True"),
        (Unknown(), "<unknown>"),
        (uuid.UUID(int=1), str(uuid.UUID(int=1))),
    ],
)
def test_other_values_are_str(value: object, text: str) -> None:
    """Anything else is ``str(value)``."""
    assert format_result(value) == text


def test_dataclass_class_is_not_serialised() -> None:
    """A dataclass *class* (not an instance) is ``str``'d, not treated as data."""
    assert format_result(Point) == str(Point)
