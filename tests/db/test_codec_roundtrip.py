"""Every value the state codec supports survives create_session and get_session on every backend.

A value comes back equal *and* of the same type (a tuple stays a tuple, a frozenset a frozenset, a float a
float); the lossy kinds (Enum, pydantic model, dataclass) come back as their plain JSON forms; a value the
codec cannot store fails with its key path before anything is written.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from kern.exceptions import StateSerializationError
from kern.session import SessionType
from kern.session.codec import MAX_DEPTH

pytestmark = pytest.mark.anyio


async def round_trip(api: Any, state: dict[str, Any]) -> dict[str, Any]:
    """Store ``state`` as a new session's state and read it back."""
    await api.create_session("s1", SessionType.AGENT, session_state=state)
    session = await api.get_session("s1")
    assert session is not None
    return session.session_state


MISSING = object()


def assert_same(got: object, want: object, path: str = "state") -> None:
    """``got`` equals ``want`` with the same type at every level; NaN matches NaN."""
    assert type(got) is type(want), (
        f"{path}: {type(got).__name__} {got!r}, expected {type(want).__name__} {want!r}"
    )
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float)
        assert math.isnan(got), f"{path}: {got!r}, expected nan"
    elif isinstance(want, dict):
        assert isinstance(got, dict)
        assert len(got) == len(want), f"{path}: keys {list(got)!r}, expected {list(want)!r}"
        for key, item in want.items():
            got_key = next((k for k in got if k == key and type(k) is type(key)), MISSING)
            assert got_key is not MISSING, f"{path}: key {key!r} missing, keys are {list(got)!r}"
            assert_same(got_key, key, f"{path} key {key!r}")
            assert_same(got[key], item, f"{path}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple)
        assert len(got) == len(want), f"{path}: {got!r}, expected {want!r}"
        for index, (got_item, want_item) in enumerate(zip(got, want, strict=True)):
            assert_same(got_item, want_item, f"{path}[{index}]")
    elif isinstance(want, set | frozenset):
        assert got == want, f"{path}: {got!r}, expected {want!r}"
        assert sorted(map(repr, got)) == sorted(map(repr, want)), f"{path}: members differ in type"
    else:
        assert got == want, f"{path}: {got!r}, expected {want!r}"
        assert str(got) == str(want), f"{path}: {got!s}, expected {want!s}"


# --- values restored to their own type ----------------------------------------------------------------------


async def test_datetimes_round_trip(api: Any) -> None:
    """Aware and naive datetimes, dates and times come back equal, aware ones with their UTC offset."""
    state = {
        "aware": datetime(2024, 5, 17, 13, 45, 30, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        "utc": datetime(2024, 1, 1, tzinfo=UTC),
        "zoned": datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris")),
        "naive": datetime(2024, 5, 17, 13, 45, 30, 123456),
        "date": date(2024, 2, 29),
        "time": time(23, 59, 59, 999999),
        "aware_time": time(8, 30, tzinfo=timezone(timedelta(hours=-3))),
    }

    got = await round_trip(api, state)

    assert got == state
    for key, value in state.items():
        assert type(got[key]) is type(value), key
        if isinstance(value, datetime | time):
            assert got[key].utcoffset() == value.utcoffset(), key


async def test_uuid_and_decimal_round_trip(api: Any) -> None:
    """UUIDs and Decimals come back exactly, Decimal digits and exponent included."""
    state = {
        "uuid": UUID("12345678-1234-5678-1234-567812345678"),
        "pi": Decimal("3.14159265358979323846264338327950288"),
        "trailing_zeros": Decimal("1.10"),
        "negative_zero": Decimal("-0.00"),
        "exponent": Decimal("1E+3"),
    }

    assert_same(await round_trip(api, state), state)


async def test_sets_and_frozensets_round_trip(api: Any) -> None:
    """Sets and frozensets, empty or of mixed members, come back as the same kind with the same members."""
    state = {
        "ints": {3, 1, 2},
        "mixed": {1, "a", (2, 3), None},
        "frozen": frozenset({"x", "y"}),
        "empty": set(),
        "empty_frozen": frozenset(),
    }

    assert_same(await round_trip(api, state), state)


async def test_tuples_round_trip(api: Any) -> None:
    """Tuples, nested or empty, come back as tuples rather than lists."""
    state = {"pair": (1, "a"), "nested": (1, (2.5, None), [3, (4,)]), "empty": ()}

    assert_same(await round_trip(api, state), state)


async def test_bytes_round_trip(api: Any) -> None:
    """bytes come back as the same bytes, and a bytearray as bytes."""
    state = {"raw": b"\x00\xff\x10binary", "empty": b"", "array": bytearray(b"\x01\x02")}

    assert_same(await round_trip(api, state), {**state, "array": b"\x01\x02"})


async def test_dicts_with_non_str_keys_round_trip(api: Any) -> None:
    """Nested dicts keyed by ints, None, tuples, UUIDs, dates and Decimals keep their keys' types."""
    state = {
        "by_int": {1: "one", 2: {3: "three", 4: [5]}},
        "mixed": {1: "int", "1": "str", None: "none", (1, "a"): "tuple", 2.5: "float"},
        "typed": {UUID(int=7): "uuid", date(2024, 1, 2): "date", Decimal("0.1"): "decimal"},
    }

    assert_same(await round_trip(api, state), state)


async def test_dicts_holding_the_reserved_key_round_trip(api: Any) -> None:
    """A user dict whose key is "__kern__", even one shaped like a tagged value, comes back unchanged."""
    state = {
        "fake_tag": {"__kern__": "dict", "items": [[1, 2]]},
        "fake_set": {"__kern__": "set", "items": ["a"]},
        "nested": {"outer": {"__kern__": "unknown", "v": 1}},
    }

    assert_same(await round_trip(api, state), state)


async def test_non_finite_floats_round_trip(api: Any) -> None:
    """NaN, inf and -inf come back as floats, alone and inside lists."""
    state = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "list": [math.nan, math.inf, -math.inf, 0.5],
    }

    assert_same(await round_trip(api, state), state)


async def test_floats_round_trip_as_floats(api: Any) -> None:
    """Finite floats, -0.0 and magnitudes of 1e16 and more included, come back as the same float."""
    state = {
        "tenth": 0.1,
        "whole": 2.0,
        "negative_zero": -0.0,
        "threshold": 1e16,
        "large": 1e20,
        "huge": -1e300,
        "tiny": 5e-324,
        "small": -1.5e-7,
        "list": [1e17, -0.0],
    }

    assert_same(await round_trip(api, state), state)


async def test_strings_with_unstorable_characters_round_trip(api: Any) -> None:
    """Strings and keys holding NUL or a lone surrogate come back unchanged."""
    state = {"nul": "a\x00b", "only_nul": "\x00", "surrogate": "x\ud800y", "keys": {"k\x00": 1, "ok": "\x00"}}

    assert_same(await round_trip(api, state), state)


async def test_plain_json_round_trips(api: Any) -> None:
    """Plain JSON values (nested dicts, lists, str, int, bool, None) come back as they were."""
    state = {
        "nested": {"a": [1, {"b": None}, True], "c": {"d": {"e": "deep"}}},
        "big_int": 2**70,
        "negative": -(2**63),
        "flags": [True, False, None],
        "text": "héllo ✓ 日本",
        "empty": {"list": [], "dict": {}},
    }

    assert_same(await round_trip(api, state), state)


async def test_metadata_round_trips_through_the_codec(api: Any) -> None:
    """Session metadata goes through the same codec: tagged values come back as their own types."""
    metadata = {
        "opened": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "tags": frozenset({"a"}),
        "index": {1: (2,)},
    }

    await api.create_session("s1", SessionType.AGENT, metadata=metadata)
    session = await api.get_session("s1")

    assert session is not None
    assert_same(session.metadata, metadata)


async def test_listing_decodes_state_like_get_session(api: Any) -> None:
    """get_sessions returns each session's state decoded to the same types as get_session."""
    state = {"when": date(2024, 3, 1), "ids": {1, 2}, "pair": (1, 2)}
    await api.create_session("s1", SessionType.AGENT, session_state=state)

    [listed] = await api.get_sessions()

    assert_same(listed.session_state, state)


# --- lossy kinds --------------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


class Priority(enum.IntEnum):
    HIGH = 1


class Point(BaseModel):
    x: int
    y: int
    label: str | None = None


class Name(str):
    pass


class Pair(NamedTuple):
    x: int
    y: int


@dataclasses.dataclass
class Task:
    title: str
    done: bool
    tags: list[str]


async def test_enums_come_back_as_their_values(api: Any) -> None:
    """Enum members, also as list items and dict keys, come back as their plain values."""
    state = {
        "color": Color.RED,
        "priority": Priority.HIGH,
        "list": [Color.RED],
        "keyed": {Priority.HIGH: "p"},
    }

    got = await round_trip(api, state)

    assert_same(got, {"color": "red", "priority": 1, "list": ["red"], "keyed": {1: "p"}})


async def test_pydantic_models_come_back_as_dicts(api: Any) -> None:
    """A pydantic model comes back as the dict of its fields."""
    state = {"point": Point(x=1, y=2), "points": [Point(x=3, y=4, label="b")]}

    got = await round_trip(api, state)

    assert_same(got, {"point": {"x": 1, "y": 2, "label": None}, "points": [{"x": 3, "y": 4, "label": "b"}]})


async def test_dataclasses_come_back_as_dicts(api: Any) -> None:
    """A dataclass instance comes back as the dict of its fields."""
    state = {"task": Task(title="write tests", done=False, tags=["db"])}

    got = await round_trip(api, state)

    assert_same(got, {"task": {"title": "write tests", "done": False, "tags": ["db"]}})


async def test_subclasses_of_builtins_come_back_as_the_builtin(api: Any) -> None:
    """A str subclass, a defaultdict and a namedtuple come back as str, dict and tuple."""
    state = {"name": Name("ada"), "counts": defaultdict(int, {"a": 2}), "point": Pair(1, 2)}

    got = await round_trip(api, state)

    assert_same(got, {"name": "ada", "counts": {"a": 2}, "point": (1, 2)})


# --- values the codec refuses -------------------------------------------------------------------------------


async def test_unencodable_state_names_its_path_and_stores_nothing(api: Any) -> None:
    """A lock at state["tasks"][2]["due"] raises StateSerializationError at that path; nothing is stored."""
    state = {"tasks": [{"due": None}, {"due": "soon"}, {"due": threading.Lock()}]}

    with pytest.raises(StateSerializationError) as raised:
        await api.create_session("s1", SessionType.AGENT, session_state=state)

    assert raised.value.path == "session_state.tasks[2].due"
    assert await api.get_session("s1") is None
    assert await api.get_sessions() == []


async def test_unencodable_metadata_names_its_path(api: Any) -> None:
    """A value the codec refuses in metadata raises StateSerializationError with a path rooted at metadata."""
    with pytest.raises(StateSerializationError) as raised:
        await api.create_session("s1", SessionType.AGENT, metadata={"hooks": {"on_end": threading.Lock()}})

    assert raised.value.path == "metadata.hooks.on_end"
    assert await api.get_session("s1") is None


@pytest.mark.parametrize(
    ("state", "path"),
    [
        ({"obj": object()}, "session_state.obj"),
        ({"fn": [len]}, "session_state.fn[0]"),
        ({"cls": {"k": Task}}, "session_state.cls.k"),
        ({1: "int key at the top"}, "session_state"),
    ],
    ids=["object", "function", "class", "top-level-int-key"],
)
async def test_other_unencodable_values_raise(api: Any, state: dict[Any, Any], path: str) -> None:
    """Objects, functions, classes and a non-str top-level key raise StateSerializationError at their path."""
    with pytest.raises(StateSerializationError) as raised:
        await api.create_session("s1", SessionType.AGENT, session_state=state)

    assert raised.value.path == path
    assert await api.get_session("s1") is None


async def test_cyclic_state_raises(api: Any) -> None:
    """A container holding itself raises StateSerializationError at its path instead of recursing forever."""
    loop: list[Any] = []
    loop.append(loop)

    with pytest.raises(StateSerializationError) as raised:
        await api.create_session("s1", SessionType.AGENT, session_state={"loop": loop})

    assert raised.value.path == "session_state.loop[0]"
    assert await api.get_session("s1") is None


async def test_state_nested_too_deep_raises(api: Any) -> None:
    """State nested deeper than the codec's MAX_DEPTH containers raises StateSerializationError."""
    deep: list[Any] = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]

    with pytest.raises(StateSerializationError):
        await api.create_session("s1", SessionType.AGENT, session_state={"deep": deep})

    assert await api.get_session("s1") is None
