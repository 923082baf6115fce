"""Tests for kern.session.codec: the JSON codec every session store uses."""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any, NamedTuple, cast
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_serializer

from kern.exceptions import StateSerializationError, StorageError
from kern.session.codec import MAX_DEPTH, TAG, JsonValue, decode, encode, encode_state

PLUS_TWO = timezone(timedelta(hours=2))


class Color(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Corner(Enum):
    TOP_LEFT = (0, 0)


@dataclass
class Task:
    title: str
    due: date
    tags: list[str] = field(default_factory=list[str])


@dataclass
class Node:
    name: str
    next: Node | None = None


class Profile(BaseModel):
    name: str
    joined: datetime
    scores: tuple[int, ...] = ()


class Point(NamedTuple):
    x: int
    y: int


class Label(str):
    pass


class Ratio(float):
    pass


def strict(value: object) -> object:
    """A form of ``value`` whose == also tells types, key order, Decimal digits, float signs and offsets."""
    kind = type(value).__name__
    if isinstance(value, dict):
        return kind, tuple((strict(k), strict(v)) for k, v in cast("dict[object, object]", value).items())
    if isinstance(value, list | tuple):
        return kind, tuple(strict(item) for item in cast("Sequence[object]", value))
    if isinstance(value, set | frozenset):
        return kind, frozenset(strict(member) for member in cast("AbstractSet[object]", value))
    if isinstance(value, date | time):
        return kind, value.isoformat()
    if isinstance(value, float | Decimal):
        return kind, repr(value)
    return kind, value


def same(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are equal type for type (see :func:`strict`)."""
    return strict(a) == strict(b)


def error_of(state: dict[str, object]) -> StateSerializationError:
    with pytest.raises(StateSerializationError) as caught:
        encode_state(state)
    return caught.value


# --- round trips --------------------------------------------------------------------------------------------

ROUND_TRIPS: dict[str, object] = {
    "naive datetime": datetime(2024, 5, 1, 10, 0, 0, 123456),
    "aware datetime": datetime(2024, 5, 1, 10, 0, tzinfo=PLUS_TWO),
    "utc datetime": datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
    "date": date(2024, 2, 29),
    "naive time": time(23, 59, 59, 999999),
    "aware time": time(10, 30, tzinfo=PLUS_TWO),
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("1.10"),
    "decimal with exponent": Decimal("-1.5E-30"),
    "decimal infinity": Decimal("-Infinity"),
    "set": {3, 1, 2},
    "empty set": set(),
    "frozenset": frozenset({"b", "a"}),
    "set of mixed types": {1, "a", (2, "b"), None},
    "bytes": b"\x00\xffbinary",
    "tuple": (1, "two", 3.0),
    "empty tuple": (),
    "nested tuple": ((1, 2), [3, (4,)]),
    "positive infinity": math.inf,
    "negative infinity": -math.inf,
    "negative zero": -0.0,
    "float of 1e16": 1e16,
    "largest float": -sys.float_info.max,
    "float just under 1e16": 9999999999999998.0,
    "string with NUL": "a\x00b\x00",
    "string of NULs": "\x00\x00",
    "string with a lone surrogate": "x\ud800y\udfff",
    "int keys": {1: "one", 2: "two"},
    "mixed keys": {None: 0, True: 1, 1.5: 2, "s": 3, Decimal("2.5"): 4, (1, "a"): 5},
    "uuid and date keys": {UUID(int=7): "u", date(2024, 1, 1): "d", datetime(2024, 1, 1, 12): "dt"},
    "reserved key": {TAG: 1},
    "reserved key with tagged-looking value": {TAG: "datetime", "v": "2024-05-01"},
    "NUL in a key": {"a\x00": 1},
    "nested": {"a": [{"b": {1, 2}}, (date(2024, 1, 1), None)], "c": {"d": Decimal("0.1")}},
}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_supported_value_round_trips_to_same_type_and_value(value: object) -> None:
    """Every supported type decodes to an equal value of the same type."""
    assert same(decode(encode(value)), value)


def test_nan_round_trips() -> None:
    """NaN, which JSONB rejects as a number, decodes to NaN."""
    decoded = decode(encode(math.nan))
    assert isinstance(decoded, float)
    assert math.isnan(decoded)


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.0, 1e16, -1e20, sys.float_info.max])
def test_float_postgres_would_alter_is_not_a_json_number(value: float) -> None:
    """Floats that JSONB rejects, or reads back as an int or without their sign, are not stored as numbers."""
    assert not isinstance(encode(value), float)


def test_bytearray_decodes_to_bytes() -> None:
    """A bytearray comes back as bytes with the same content."""
    assert same(decode(encode(bytearray(b"abc"))), b"abc")


def test_aware_datetime_keeps_its_offset() -> None:
    """An aware datetime decodes with the UTC offset it was encoded with, not converted to another zone."""
    value = datetime(2024, 5, 1, 10, 0, tzinfo=PLUS_TWO)
    decoded = decode(encode(value))
    assert isinstance(decoded, datetime)
    assert (decoded.hour, decoded.utcoffset()) == (value.hour, value.utcoffset())


def test_naive_datetime_stays_naive() -> None:
    """A naive datetime decodes without a tzinfo."""
    decoded = decode(encode(datetime(2024, 5, 1, 10, 0)))
    assert isinstance(decoded, datetime)
    assert decoded.tzinfo is None


def test_zoneinfo_datetime_decodes_to_equal_fixed_offset() -> None:
    """A ZoneInfo datetime decodes to the same instant and offset."""
    try:
        zone = ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    value = datetime(2024, 7, 1, 12, 0, tzinfo=zone)
    decoded = decode(encode(value))
    assert isinstance(decoded, datetime)
    assert (decoded, decoded.utcoffset()) == (value, value.utcoffset())


def test_decimal_keeps_exact_digits() -> None:
    """A Decimal decodes with its exact digits, trailing zeros included."""
    assert str(decode(encode(Decimal("1.10")))) == "1.10"


def test_set_members_are_sorted() -> None:
    """Sortable set members are stored in sorted order."""
    members = [5, 3, 9, 1]
    encoded = encode(set(members))
    assert isinstance(encoded, dict)
    assert encoded["items"] == sorted(members)


def test_equal_sets_of_mixed_types_encode_alike() -> None:
    """Equal sets of unsortable members encode identically whatever their iteration order."""
    forward: set[object] = set()
    backward: set[object] = set()
    for member in [1, 9, (0,)]:  # 1 and 9 share a hash slot: insertion order decides iteration order
        forward.add(member)
    for member in [(0,), 9, 1]:
        backward.add(member)
    assert list(forward) != list(backward)
    assert encode(forward) == encode(backward)


# --- plain JSON ---------------------------------------------------------------------------------------------


def test_plain_json_passes_through_untagged() -> None:
    """Plain JSON values encode to an equal tree with no tag in it."""
    value: dict[str, JsonValue] = {"a": [1, 2.5, "x", True, None, {"b": []}], "é": "ünïcode"}
    encoded = encode(value)
    assert encoded == value
    assert TAG not in json.dumps(encoded)


def test_encoded_containers_are_fresh() -> None:
    """The encoded tree shares no dict or list with the input."""
    inner: list[object] = [1]
    value = {"a": inner}
    encoded = encode(value)
    assert isinstance(encoded, dict)
    assert encoded is not value
    assert encoded["a"] is not inner


def test_encode_does_not_mutate_input() -> None:
    """Encoding leaves the input exactly as it was."""
    value: dict[str, object] = {"s": {3, 1}, "k": {1: [TAG]}, TAG: (1, [2]), "t": Task("x", date(2024, 1, 1))}
    snapshot = copy.deepcopy(value)
    encode(value)
    assert value == snapshot


def test_decode_returns_fresh_objects() -> None:
    """Changing a decoded value leaves the encoded tree unchanged."""
    encoded: JsonValue = {"a": [1, {"b": 2}]}
    snapshot = copy.deepcopy(encoded)
    decoded = decode(encoded)
    assert isinstance(decoded, dict)
    cast("list[object]", decoded["a"]).append(3)
    decoded["a"][1]["b"] = 99
    assert encoded == snapshot


def test_output_is_strict_json() -> None:
    """The encoded tree of every supported value dumps with allow_nan=False and holds no NUL or surrogate."""
    encoded = encode({**dict(enumerate(ROUND_TRIPS.values())), -1: math.nan})
    text = json.dumps(encoded, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")  # raises on a lone surrogate
    assert "\x00" not in text


# --- lossy encodings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "expected"),
    [(Color.RED, "red"), (Level.HIGH, 3), (Corner.TOP_LEFT, (0, 0))],
    ids=["StrEnum", "IntEnum", "Enum"],
)
def test_enum_decodes_as_its_value(member: Enum, expected: object) -> None:
    """An Enum member decodes to its plain value, not to the Enum class."""
    assert same(decode(encode(member)), expected)


def test_enum_key_is_stored_as_its_value() -> None:
    """A dict keyed by a StrEnum is stored as a plain dict keyed by the values."""
    assert encode({Color.RED: 1}) == {Color.RED.value: 1}


def test_pydantic_model_decodes_as_its_dump() -> None:
    """A pydantic model decodes to model_dump(mode="python"), nested types restored."""
    model = Profile(name="ada", joined=datetime(2024, 5, 1, tzinfo=PLUS_TWO), scores=(1, 2))
    assert same(decode(encode(model)), model.model_dump(mode="python"))


def test_dataclass_decodes_as_dict_of_fields() -> None:
    """A dataclass instance decodes to a dict of its fields."""
    task = Task("write", date(2024, 5, 1), ["a"])
    assert same(decode(encode(task)), {"title": task.title, "due": task.due, "tags": task.tags})


def test_nested_dataclass_decodes_as_nested_dicts() -> None:
    """A dataclass inside a dataclass decodes to a dict inside a dict."""
    assert decode(encode(Node("a", Node("b")))) == {"name": "a", "next": {"name": "b", "next": None}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Label("x"), "x"),
        (Ratio(0.5), 0.5),
        (Ratio("inf"), math.inf),
        (defaultdict(list, {"a": [1]}), {"a": [1]}),
        (Point(1, 2), (1, 2)),
    ],
    ids=["str", "float", "non-finite float", "defaultdict", "namedtuple"],
)
def test_builtin_subclass_decodes_as_the_builtin(value: object, expected: object) -> None:
    """A subclass of a supported builtin decodes to that builtin."""
    assert same(decode(encode(value)), expected)


# --- errors -------------------------------------------------------------------------------------------------


def test_unsupported_value_names_its_key_path() -> None:
    """A lock at state["tasks"][2]["due"] is reported at session_state.tasks[2].due."""
    error = error_of({"tasks": [{}, {}, {"due": threading.Lock()}]})
    assert error.path == "session_state.tasks[2].due"
    assert error.path in str(error)


def test_unsupported_value_names_its_type() -> None:
    """The error message names the type of the value that cannot be stored."""
    lock = threading.Lock()
    assert type(lock).__qualname__ in str(error_of({"lock": lock}))


@pytest.mark.parametrize(
    ("state", "path"),
    [
        ({"my key": object()}, "session_state['my key']"),
        ({"t": (1, object())}, "session_state.t[1]"),
        ({"s": {object()}}, "session_state.s{}"),
        ({"d": {7: object()}}, "session_state.d[7]"),
        ({"d": {TAG: object()}}, f"session_state.d.{TAG}"),
        ({"task": Task("x", object())}, "session_state.task.due"),  # pyright: ignore[reportArgumentType]
    ],
    ids=["non-identifier key", "tuple index", "set member", "int key", "reserved key", "dataclass field"],
)
def test_path_segments(state: dict[str, object], path: str) -> None:
    """Keys, indices, set members and dataclass fields each format their own path segment."""
    assert error_of(state).path == path


@pytest.mark.parametrize(
    "value",
    [lambda: None, Task, (x for x in ()), object(), memoryview(b"")],
    ids=["function", "class", "generator", "object", "memoryview"],
)
def test_unsupported_values_raise(value: object) -> None:
    """Functions, classes, generators and other objects are refused."""
    assert error_of({"v": value}).path == "session_state.v"


def test_unsupported_dict_key_raises() -> None:
    """A dict key outside the allowed key types is refused, naming the dict."""
    error = error_of({"d": {frozenset({1}): 1}})
    assert error.path == "session_state.d"
    assert "frozenset" in str(error)


def test_encode_uses_the_given_root_path() -> None:
    """encode() starts error paths at its path argument."""
    with pytest.raises(StateSerializationError) as caught:
        encode([object()], path="tool_result")
    assert caught.value.path == "tool_result[0]"


def test_pydantic_serializer_failure_names_the_path() -> None:
    """A pydantic model whose dump fails is reported at its path."""

    class Broken(BaseModel):
        x: int

        @field_serializer("x")
        def fail(self, value: int) -> int:
            raise ValueError("no")

    assert error_of({"m": Broken(x=1)}).path == "session_state.m"


def test_list_cycle_is_reported() -> None:
    """A list that contains itself raises with "cycle at" and the path of the repeat."""
    loop: list[object] = []
    loop.append(loop)
    error = error_of({"a": loop})
    assert (error.path, str(error).startswith("cycle at session_state.a[0]")) == ("session_state.a[0]", True)


def test_dict_cycle_is_reported() -> None:
    """A dict that contains itself raises StateSerializationError, not RecursionError."""
    loop: dict[str, object] = {}
    loop["self"] = loop
    assert error_of({"a": loop}).path == "session_state.a.self"


def test_state_containing_itself_is_reported() -> None:
    """A state dict that contains itself is a cycle at its first key."""
    state: dict[str, object] = {}
    state["me"] = state
    assert error_of(state).path == "session_state.me"


def test_dataclass_cycle_is_reported() -> None:
    """A dataclass instance that refers to itself is a cycle."""
    node = Node("a")
    node.next = node
    assert error_of({"n": node}).path == "session_state.n.next"


def test_shared_value_is_not_a_cycle() -> None:
    """The same list twice in a state is encoded twice, not reported as a cycle."""
    shared = [1]
    assert encode_state({"a": shared, "b": [shared]}) == {"a": shared, "b": [shared]}


def test_too_deep_nesting_raises() -> None:
    """Nesting deeper than MAX_DEPTH raises StateSerializationError rather than RecursionError."""
    deep: list[object] = []
    for _ in range(MAX_DEPTH * 2):
        deep = [deep]
    with pytest.raises(StateSerializationError):
        encode(deep)


@pytest.mark.parametrize("key", [TAG, 1, "nul\x00"], ids=["reserved", "int", "NUL"])
def test_state_key_must_be_plain_str(key: Any) -> None:
    """A top-level state key must be a plain str, so that patches can address it."""
    assert error_of({key: 1}).path == "session_state"


# --- decoding corrupt data ----------------------------------------------------------------------------------


def test_unknown_tag_raises_storage_error_naming_the_tag() -> None:
    """A tag this version does not know raises StorageError naming it."""
    with pytest.raises(StorageError, match="from_the_future"):
        decode({"a": [{TAG: "from_the_future", "v": 1}]})


@pytest.mark.parametrize(
    "data",
    [
        {TAG: "datetime", "v": 5},
        {TAG: "datetime"},
        {TAG: "date", "v": "2024-05-01", "extra": 1},
        {TAG: "time", "v": "25:00"},
        {TAG: "uuid", "v": "not-a-uuid"},
        {TAG: "decimal", "v": "one"},
        {TAG: "bytes", "v": "!!"},
        {TAG: "float", "v": "huge"},
        {TAG: "str", "parts": [1.5]},
        {TAG: "str", "parts": [-1]},
        {TAG: "tuple", "items": "ab"},
        {TAG: "set", "items": [[1]]},
        {TAG: "dict", "items": [[1, 2, 3]]},
        {TAG: "dict", "items": [[[1], 2]]},
        {TAG: 7},
    ],
    ids=lambda data: json.dumps(data),
)
def test_malformed_payload_raises_storage_error(data: JsonValue) -> None:
    """A tagged payload of the wrong shape raises StorageError, not a bare ValueError or TypeError."""
    with pytest.raises(StorageError):
        decode(data)


# --- properties ---------------------------------------------------------------------------------------------

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
texts = st.text(max_size=8) | st.text(
    st.sampled_from(["a", "\x00", "\ud800", "\udfff", "é", "😀"]), max_size=4
)
keys = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | texts
    | st.just(TAG)
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=st.none() | offsets)
    | st.decimals(allow_nan=False),
    lambda children: st.lists(children, max_size=3).map(tuple),
    max_leaves=4,
)
scalars = keys | st.binary(max_size=8) | st.times(timezones=st.none() | offsets)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(texts | st.just(TAG), children, max_size=4)
        | st.dictionaries(keys, children, max_size=4)
        | st.sets(keys, max_size=4)
        | st.frozensets(keys, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(values)
def test_decode_inverts_encode_through_json_text(value: object) -> None:
    """decode(encode(x)) equals x type for type, via strict JSON text, for any tree of supported values."""
    text = json.dumps(encode(value), allow_nan=False)
    assert same(decode(json.loads(text)), value)
