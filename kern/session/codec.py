"""The one JSON codec for session state; every storage backend encodes and decodes through it.

Session state holds the user's Python values, and the stores keep it as JSON. One codec means one answer to
"what can live in session state": a value that cannot be stored fails when it is encoded, with its key path
(``session_state.tasks[2].due``), not as a driver error at commit, and a row written by one backend reads back
the same through another. Pickle is never used: a stored row must not be able to run code on load.

Plain JSON values (``dict`` with ``str`` keys, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``) pass
through as they are, but for the few floats and strings Postgres cannot hold; encoding runs on every tool
call, so that path only type-checks and copies containers. Other values become a tagged object with the
reserved key ``"__kern__"``, and :func:`decode` restores them to the same type and value:

==============================  ==========================================================================
``datetime``, ``date``,         ISO 8601; an aware value keeps its UTC offset (a ``ZoneInfo`` comes back as
``time``                        a fixed offset, equal to the original)
``UUID``, ``Decimal``           their exact string form
``bytes``, ``bytearray``        base64; both decode to ``bytes``
``tuple``, ``set``,             a list of members, decoded to the same kind; set members are sorted so that
``frozenset``                   equal sets encode alike
``float`` NaN, ±inf, -0.0 and   as text: JSONB rejects NaN and infinities, and gives the others back as
magnitudes of 1e16 or more      ``0.0`` and as integers
``str`` with NUL or a lone      split into text and code points (Postgres rejects NUL; a lone surrogate is
surrogate                       not valid UTF-8)
``dict`` with non-``str`` keys  ``{"__kern__": "dict", "items": [[key, value], ...]}``; a key may be a
or the key ``"__kern__"``       ``str``, number, ``bool``, ``None``, ``UUID``, ``date``, ``datetime``,
                                ``Decimal``, an ``Enum`` of those, or a tuple of keys
==============================  ==========================================================================

Lossy by design, because restoring the class would mean importing a class named in stored data:

- an ``Enum`` member encodes as its ``.value``;
- a pydantic model encodes as ``model_dump(mode="python")`` and a dataclass instance as a dict of its fields;
- a subclass of a supported builtin (a ``str`` subclass, a ``defaultdict``, a ``namedtuple``, a pandas
  ``Timestamp``...) encodes as that builtin.

Anything else (an arbitrary object, a function, a class, a lock, a generator) raises
:class:`~kern.exceptions.StateSerializationError`, as do a container that contains itself, nesting deeper
than ``MAX_DEPTH`` containers, and an ``int`` (a key, a member or a value) of more than 4300 decimal digits
(:func:`int_digit_limit`): JSON spells an int in decimal, Python refuses to convert longer ones
(``sys.get_int_max_str_digits()``), and a value one process could write another could not read. So the
codec refuses, where the value was put, exactly what a store would fail to write or read back; what it
accepts every backend (the in-memory one, SQLite's JSON text, PostgreSQL's JSONB) stores and returns
equal. Top-level keys of a state must be plain ``str`` (no NUL or lone surrogate, not ``"__kern__"``).
:func:`decode` raises :class:`~kern.exceptions.StorageError` for a tag it does
not know (the data is corrupt or was written by a newer Kern) or a malformed tagged payload.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Set
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard, cast
from uuid import UUID

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from kern.exceptions import StateSerializationError, StorageError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"

TAG = "__kern__"
"""The reserved key that marks a tagged object."""

MAX_DEPTH = 100
"""The deepest nesting of containers :func:`encode` accepts; deeper data would exhaust the Python stack."""

_UNSTORABLE_CHAR = re.compile("([\x00\ud800-\udfff])")
_ALWAYS_STORABLE_INT = 10**sys.int_info.str_digits_check_threshold
"""Ints below this magnitude (640 digits) are storable whatever the process's digit limit (never lower)."""
_HINT = (
    "session state holds data: JSON values, datetimes, UUIDs, Decimals, bytes, sets, tuples, enums, "
    "dataclasses and pydantic models"
)


# --- encoding -----------------------------------------------------------------------------------------------


def encode(value: object, *, path: str = "value") -> JsonValue:
    """Encode ``value`` as a JSON-compatible tree, sharing no container with it.

    Raises :class:`StateSerializationError` for a value the codec cannot store, its path starting at ``path``.
    """
    try:
        return _encode(value, set())
    except _Unencodable as exc:
        raise exc.error(path) from exc.__cause__


def encode_state(state: Mapping[str, object], *, root: str = "session_state") -> dict[str, JsonValue]:
    """Encode a whole session state; error paths start at ``root``.

    Top-level keys must be plain strings (not ``"__kern__"``) so that the encoded state stays a plain object
    whose keys patches can address.
    """
    try:
        encoded = _encode_plain_dict(state, {id(state)})
    except _Unencodable as exc:
        raise exc.error(root) from exc.__cause__
    if encoded is None:
        key = next(key for key in state if not _is_plain_key(key))
        raise StateSerializationError(
            f"session state key {_shown_key(key)} at {root} {_key_problem(key)}: the keys of session_state "
            "must be plain strings (nested dicts may use other keys)",
            path=root,
        )
    return encoded


class _Unencodable(Exception):
    """Raised where encoding fails; each enclosing container adds its path segment while it unwinds."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.detail = detail
        self.segments: list[str] = []

    def error(self, root: str) -> StateSerializationError:
        path = root + "".join(reversed(self.segments))
        detail = f": {self.detail}" if self.detail else ""
        return StateSerializationError(f"{self.what} at {path}{detail}", path=path)


def _encode(value: object, active: set[int]) -> JsonValue:
    # Exact type checks first: this is the hot path, and no plain value is tagged or looked up in a table.
    if type(value) is str:
        return value if _is_storable(value) else _tag_str(value)
    if type(value) is int:
        return value if -_ALWAYS_STORABLE_INT < value < _ALWAYS_STORABLE_INT else _check_long_int(value)
    if type(value) is bool or value is None:
        return value
    if type(value) is float:
        # JSONB rejects NaN and infinities, reads floats of 1e16 and up back as ints, and drops -0.0's sign.
        if -1e16 < value < 1e16 and (value != 0.0 or math.copysign(1.0, value) > 0.0):
            return value
        return {TAG: "float", "v": repr(value)}
    if type(value) is dict:
        return _encode_dict(cast("dict[object, object]", value), active)
    if type(value) is list:
        return _encode_list(cast("list[object]", value), active)
    return _encode_other(value, active)


def _check_long_int(value: int) -> int:
    """``value`` if the stores can write it and read it back, else :class:`_Unencodable`."""
    limit = int_digit_limit()
    if -_power_of_ten(limit) < value < _power_of_ten(limit):
        return value
    raise _Unencodable(
        f"cannot store an int of more than {limit} digits",
        f"JSON spells an int in decimal digits and Python converts at most {limit} of them (its int/str "
        "conversion limit, so every process can read the value back); store it as a Decimal or as text",
    )


def int_digit_limit() -> int:
    """The most decimal digits an int in session state may have.

    Python's default int/str conversion limit (4300 digits, ``sys.int_info.default_max_str_digits``),
    so that every process reads the value back, or the process's own limit when it set a lower one.
    PostgreSQL's JSONB holds more (131072 digits), SQLite any number: the limit is Python's, the same on
    every backend.
    """
    current = sys.get_int_max_str_digits()
    default = sys.int_info.default_max_str_digits
    return min(current, default) if current else default


@functools.lru_cache(maxsize=4)
def _power_of_ten(digits: int) -> int:
    return 10**digits


def _encode_other(value: object, active: set[int]) -> JsonValue:
    encoder = _TAGGED.get(type(value))
    if encoder is not None:
        return encoder(value, active)
    if isinstance(value, Enum):  # before the builtins: IntEnum and StrEnum subclass int and str
        return _encode(value.value, active)
    for base, base_encoder in _BY_BASE:
        if isinstance(value, base):
            return base_encoder(value, active)
    if isinstance(value, BaseModel):
        return _encode_model(value, active)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value, active)
    raise _Unencodable(f"cannot store {_describe(value)}", _HINT)


def _enter(container: object, active: set[int]) -> None:
    """Mark ``container`` as being encoded; ``active`` holds the ids of the containers on the current path."""
    if id(container) in active:
        raise _Unencodable("cycle", "a container holds a reference to itself")
    if len(active) >= MAX_DEPTH:
        raise _Unencodable(f"nesting deeper than {MAX_DEPTH} containers")
    active.add(id(container))


def _encode_dict(value: Mapping[Any, object], active: set[int]) -> JsonValue:
    _enter(value, active)
    encoded = _encode_entries(value, active)
    active.discard(id(value))
    return encoded


def _encode_entries(value: Mapping[Any, object], active: set[int]) -> JsonValue:
    encoded = _encode_plain_dict(value, active)
    return encoded if encoded is not None else _encode_keyed_dict(value, active)


def _encode_plain_dict(value: Mapping[Any, object], active: set[int]) -> dict[str, JsonValue] | None:
    """``value`` as a plain JSON object, or None if a key needs the tagged form."""
    encoded: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not _is_plain_key(key):
            return None
        try:
            encoded[key] = _encode(item, active)
        except _Unencodable as exc:
            exc.segments.append(_key_segment(key))
            raise
    return encoded


def _encode_keyed_dict(value: Mapping[object, object], active: set[int]) -> JsonValue:
    keys: list[JsonValue] = []
    items: list[JsonValue] = []
    for key, item in value.items():
        if not _is_allowed_key(key):
            raise _Unencodable(f"cannot use {_describe(key)} as a dict key", _HINT)
        try:
            keys.append(_encode(key, active))
            items.append(_encode(item, active))
        except _Unencodable as exc:
            exc.segments.append(_key_segment(key))
            raise
    plain_keys = _as_plain_keys(keys)
    if plain_keys is not None:  # e.g. StrEnum keys: stored as a plain dict all the same
        return dict(zip(plain_keys, items, strict=True))
    return {TAG: "dict", "items": [[key, item] for key, item in zip(keys, items, strict=True)]}


def _encode_list(value: list[object], active: set[int]) -> list[JsonValue]:
    _enter(value, active)
    encoded = _encode_items(value, active)
    active.discard(id(value))
    return encoded


def _encode_items(value: Iterable[object], active: set[int]) -> list[JsonValue]:
    encoded: list[JsonValue] = []
    for index, item in enumerate(value):
        try:
            encoded.append(_encode(item, active))
        except _Unencodable as exc:
            exc.segments.append(f"[{index}]")
            raise
    return encoded


def _encode_tuple(value: tuple[object, ...], active: set[int]) -> JsonValue:
    _enter(value, active)
    items = _encode_items(value, active)
    active.discard(id(value))
    return {TAG: "tuple", "items": items}


def _encode_set(value: Set[object], active: set[int]) -> JsonValue:
    _enter(value, active)
    members: list[tuple[object, JsonValue]] = []
    for member in value:
        try:
            members.append((member, _encode(member, active)))
        except _Unencodable as exc:
            exc.segments.append("{}")
            raise
    active.discard(id(value))
    return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "items": _sorted_members(members)}


def _sorted_members(members: list[tuple[object, JsonValue]]) -> list[JsonValue]:
    """Order set members naturally when they are totally ordered, else by their canonical JSON."""
    ordered = all(_is_totally_ordered(member) for member, _ in members)
    try:
        members.sort(key=_natural_order if ordered else _canonical_order)
    except (TypeError, ArithmeticError):  # mixed types: str and int, naive and aware datetimes
        members.sort(key=_canonical_order)
    return [encoded for _, encoded in members]


def _natural_order(member: tuple[object, JsonValue]) -> Any:
    return member[0]


def _canonical_order(member: tuple[object, JsonValue]) -> str:
    return json.dumps(member[1], sort_keys=True)


def _is_totally_ordered(member: object) -> bool:
    if type(member) is float:
        return not math.isnan(member)
    return type(member) in (str, int, bool, Decimal, bytes, date, datetime, time, UUID)


def _encode_model(model: BaseModel, active: set[int]) -> JsonValue:
    _enter(model, active)
    try:
        dumped = model.model_dump(mode="python")
    except PydanticSerializationError as exc:
        raise _Unencodable(f"cannot dump pydantic model {_type_name(model)}", str(exc)) from exc
    encoded = _encode(dumped, active)
    active.discard(id(model))
    return encoded


def _encode_dataclass(instance: DataclassInstance, active: set[int]) -> JsonValue:
    _enter(instance, active)
    fields = {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
    encoded = _encode_entries(fields, active)
    active.discard(id(instance))
    return encoded


def _tag_str(value: str) -> JsonValue:
    pieces = _UNSTORABLE_CHAR.split(value)  # one group in the pattern: text and split-on characters alternate
    parts: list[JsonValue] = [ord(piece) if i % 2 else piece for i, piece in enumerate(pieces) if piece]
    return {TAG: "str", "parts": parts}


def _tag_scalar(tag: str, text: Callable[[Any], str]) -> Callable[[Any, set[int]], JsonValue]:
    return lambda value, _active: {TAG: tag, "v": text(value)}


def _base64(value: bytes | bytearray) -> str:
    return base64.b64encode(value).decode("ascii")


_TAGGED: dict[type, Callable[[Any, set[int]], JsonValue]] = {
    datetime: _tag_scalar("datetime", datetime.isoformat),
    date: _tag_scalar("date", date.isoformat),
    time: _tag_scalar("time", time.isoformat),
    UUID: _tag_scalar("uuid", str),
    Decimal: _tag_scalar("decimal", str),
    bytes: _tag_scalar("bytes", _base64),
    bytearray: _tag_scalar("bytes", _base64),
    tuple: _encode_tuple,
    set: _encode_set,
    frozenset: _encode_set,
}


def _exact_time(value: time) -> time:
    return time(value.hour, value.minute, value.second, value.microsecond, value.tzinfo, fold=value.fold)


# Subclasses of supported builtins encode as the builtin (checked in order: datetime before date).
_BY_BASE: tuple[tuple[type, Callable[[Any, set[int]], JsonValue]], ...] = (
    (str, lambda value, active: _encode(str.__str__(value), active)),
    (int, lambda value, active: _encode(int.__int__(value), active)),
    (float, lambda value, active: _encode(float.__float__(value), active)),
    (dict, _encode_dict),
    (list, _encode_list),
    (tuple, _encode_tuple),
    (frozenset, _encode_set),
    (set, _encode_set),
    (bytes, lambda value, active: _encode(bytes(value), active)),
    (bytearray, lambda value, active: _encode(bytes(value), active)),
    (
        datetime,
        lambda value, active: _encode(datetime.combine(value.date(), _exact_time(value.timetz())), active),
    ),
    (date, lambda value, active: _encode(date(value.year, value.month, value.day), active)),
    (time, lambda value, active: _encode(_exact_time(value), active)),
    (UUID, lambda value, active: _encode(UUID(int=value.int), active)),
    (Decimal, lambda value, active: _encode(Decimal(value), active)),
)


# --- keys and paths -----------------------------------------------------------------------------------------


def _is_storable(text: str) -> bool:
    """Whether ``text`` can be stored as a plain JSON string (no NUL, no lone surrogate)."""
    # isascii() is O(1) in CPython, and ASCII text cannot hold a surrogate.
    return "\x00" not in text if text.isascii() else _UNSTORABLE_CHAR.search(text) is None


def _is_plain_key(key: object) -> TypeGuard[str]:
    return type(key) is str and key != TAG and _is_storable(key)


def _as_plain_keys(keys: list[JsonValue]) -> list[str] | None:
    plain = [key for key in keys if type(key) is str and key != TAG]
    return plain if len(plain) == len(keys) and len(set(plain)) == len(plain) else None


def _is_allowed_key(key: object) -> bool:
    if isinstance(key, Enum):
        return _is_allowed_key(key.value)
    if key is None or isinstance(key, str | int | float | UUID | date | Decimal):
        return True
    return isinstance(key, tuple) and all(_is_allowed_key(item) for item in cast("tuple[object, ...]", key))


def _key_segment(key: object) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    try:
        return f"[{key!r}]"
    except ValueError:  # an int key too long to show (it is why encoding failed)
        return "[<an int key too long to show>]"


def _key_problem(key: object) -> str:
    if not isinstance(key, str):
        return f"is of type {_type_name(key)}, not str"
    return "is reserved by the codec" if key == TAG else "holds a NUL or a lone surrogate"


def _shown_key(key: object) -> str:
    try:
        return repr(key)
    except ValueError:  # an int too long to show
        return "<an int too long to show>"


def _type_name(value: object) -> str:
    return _qualified_name(type(value))


def _qualified_name(cls: type) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _describe(value: object) -> str:
    if isinstance(value, type):
        return f"the class {_qualified_name(value)}"
    return f"a value of type {_type_name(value)}"


# --- decoding -----------------------------------------------------------------------------------------------


def decode(data: JsonValue) -> object:
    """Restore the value :func:`encode` turned into ``data``, as fresh objects.

    Raises :class:`StorageError` for an unknown tag or a malformed tagged payload.
    """
    if type(data) is dict:
        return _decode_tagged(data) if TAG in data else {key: decode(item) for key, item in data.items()}
    if type(data) is list:
        return [decode(item) for item in data]
    return data


def _decode_tagged(data: dict[str, JsonValue]) -> object:
    tag = data[TAG]
    decoder = _DECODERS.get(tag) if type(tag) is str else None
    if decoder is None:
        message = f"stored session state has an unknown {TAG} tag {tag!r}: it is corrupt or from a newer Kern"
        raise StorageError(message)
    try:
        return decoder(data)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise StorageError(f"stored session state has a malformed {tag!r} value: {exc}") from exc


def _payload(data: dict[str, JsonValue], key: str) -> JsonValue:
    if len(data) != 2 or key not in data:
        raise ValueError(f"expected the keys {TAG!r} and {key!r}, got {sorted(data)}")
    return data[key]


def _text(data: dict[str, JsonValue]) -> str:
    value = _payload(data, "v")
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _items(data: dict[str, JsonValue], key: str = "items") -> list[JsonValue]:
    value = _payload(data, key)
    if type(value) is not list:
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _decode_pair(pair: JsonValue) -> tuple[object, object]:
    if type(pair) is not list or len(pair) != 2:
        raise ValueError(f"expected a [key, value] pair, got {pair!r}")
    return decode(pair[0]), decode(pair[1])


def _decode_part(part: JsonValue) -> str:
    if type(part) is str:
        return part
    if type(part) is int:
        return chr(part)
    raise TypeError(f"expected a string or a code point, got {type(part).__name__}")


_DECODERS: dict[str, Callable[[dict[str, JsonValue]], object]] = {
    "datetime": lambda data: datetime.fromisoformat(_text(data)),
    "date": lambda data: date.fromisoformat(_text(data)),
    "time": lambda data: time.fromisoformat(_text(data)),
    "uuid": lambda data: UUID(_text(data)),
    "decimal": lambda data: Decimal(_text(data)),
    "bytes": lambda data: base64.b64decode(_text(data), validate=True),
    "float": lambda data: float(_text(data)),
    "str": lambda data: "".join(_decode_part(part) for part in _items(data, "parts")),
    "tuple": lambda data: tuple(decode(item) for item in _items(data)),
    "set": lambda data: {decode(item) for item in _items(data)},
    "frozenset": lambda data: frozenset(decode(item) for item in _items(data)),
    "dict": lambda data: dict(_decode_pair(pair) for pair in _items(data)),
}

__all__ = ["MAX_DEPTH", "TAG", "JsonValue", "decode", "encode", "encode_state", "int_digit_limit"]
