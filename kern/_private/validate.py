"""Argument checks every public constructor and run call shares: each bad value gets a sentence.

A check raises :class:`~kern.exceptions.UsageError` naming the parameter, what was given and what is
accepted, before anything is claimed or written. They are cheap (a few ``type`` checks and, for an id,
one scan of the string), because ``Runnable._call`` runs them on every run.

The id rule (session, user, definition and run-level ids, idempotency keys): a ``str``, not empty, at
most :data:`ID_LIMIT` characters, without NUL (PostgreSQL text cannot hold it) and without a lone
surrogate (it has no UTF-8 form, so no driver can send it). One rule for every backend, so an id that
works on SQLite works on PostgreSQL too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard, cast

from kern.exceptions import UsageError

ID_LIMIT = 255
"""The longest id the tables hold (their VARCHAR(255) columns; ``kern.db._sql.sessions.ID_LIMIT``)."""

_SURROGATE = re.compile("[\ud800-\udfff]")

_EXACT_FLOAT = 2**53
"""Ints below this (in size) compare with 0 and ``math.inf`` as their float does (the fast path)."""


def unstorable_char(text: str) -> str | None:
    """What in ``text`` no store can hold (a NUL or a lone surrogate), described; None if it is fine."""
    if "\x00" in text:
        return "a NUL character (U+0000), which PostgreSQL cannot store"
    if not text.isascii() and (found := _SURROGATE.search(text)) is not None:
        return f"a lone surrogate (U+{ord(found.group()):04X}), which has no UTF-8 encoding"
    return None


def check_id(value: object, name: str, *, where: str = "") -> str:
    """``value`` if it is a valid id (see the module docstring), else UsageError naming ``name``."""
    if (
        type(value) is str
        and 0 < len(value) <= ID_LIMIT
        and "\x00" not in value
        and (value.isascii() or _SURROGATE.search(value) is None)
    ):
        return value  # the common case, tested inline: unstorable_char's rule without its messages
    if isinstance(value, str):
        text = str.__str__(value)
        if not text:
            problem = "is empty: give a non-empty id, or leave it out (None) for the default"
        elif len(text) > ID_LIMIT:
            problem = f"is {len(text)} characters long; the stores hold ids of at most {ID_LIMIT}"
        elif (bad := unstorable_char(text)) is not None:
            problem = f"{shown(text)} contains {bad}"
        else:
            return text  # a str subclass (a StrEnum member, say): stored as the plain str
        raise UsageError(_at(where, f"{name} {problem}"))
    raise UsageError(_at(where, f"{name} must be a str id, got {given(value)}"))


def check_optional_id(value: object, name: str, *, where: str = "") -> str | None:
    """None, or ``value`` checked by :func:`check_id`."""
    return None if value is None else check_id(value, name, where=where)


def check_mapping(value: object, name: str, *, where: str = "") -> Mapping[str, Any] | None:
    """None or a Mapping, else UsageError (``session_state=[1, 2]`` is not a state)."""
    if value is None or type(value) is dict or isinstance(value, Mapping):
        return cast("Mapping[str, Any] | None", value)
    raise UsageError(_at(where, f"{name} must be a dict (any Mapping) or None, got {given(value)}"))


def check_instance(
    value: object, kind: type | tuple[type, ...], name: str, accepted: str, *, where: str = ""
) -> None:
    """None or an instance of ``kind``, else UsageError saying ``name`` must be ``accepted``."""
    if value is not None and not isinstance(value, kind):
        raise UsageError(_at(where, f"{name} must be {accepted}, got {given(value)}"))


def check_int(value: object, name: str, *, minimum: int, optional: bool = False, where: str = "") -> None:
    """An int (not a bool) of at least ``minimum`` (or None when ``optional``), else UsageError."""
    if type(value) is int and value >= minimum:
        return
    if value is None and optional:
        return
    if type(value) is bool or not isinstance(value, int):
        accepted = f"an int of at least {minimum}" + (" or None" if optional else "")
        raise UsageError(_at(where, f"{name} must be {accepted}, got {given(value)}"))
    if value < minimum:
        raise UsageError(_at(where, f"{name} must be at least {minimum}, got {given(value, typed=False)}"))


def check_seconds(
    value: object,
    name: str,
    *,
    optional: bool = False,
    zero: bool = False,
    infinite: bool = False,
    where: str = "",
) -> None:
    """A duration in seconds: an int or float (not a bool), not NaN, positive (or 0 when ``zero``),
    finite unless ``infinite``; or None when ``optional``. Else UsageError naming ``name``."""
    if type(value) is float or (type(value) is int and -_EXACT_FLOAT < value < _EXACT_FLOAT):
        # The common case, tested inline: NaN fails every comparison, and such an int is its float.
        if (value > 0 or (zero and value == 0)) and (infinite or value < math.inf):
            return
    elif value is None and optional:
        return
    if not _is_number(value):
        accepted = _seconds(optional, zero, infinite)
        raise UsageError(_at(where, f"{name} must be {accepted}, got {given(value)}"))
    number = _as_float(value)  # an int or float subclass, a huge int, or a value out of range
    in_range = number > 0 or (zero and number == 0)
    if math.isnan(number) or (math.isinf(number) and not infinite) or not in_range:
        accepted = _seconds(optional, zero, infinite)
        raise UsageError(_at(where, f"{name} must be {accepted}, got {given(value, typed=False)}"))


def _seconds(optional: bool, zero: bool, infinite: bool) -> str:
    """What :func:`check_seconds` accepts, in words (built only for the message)."""
    bound = "0 or more" if zero else "more than 0"
    accepted = f"a number of seconds, {bound}" + ("" if infinite else " and finite")
    return accepted + (" (or None)" if optional else "")


def check_number(
    value: object,
    name: str,
    *,
    minimum: float,
    maximum: float = math.inf,
    where: str = "",
) -> None:
    """A finite int or float (not a bool) within ``[minimum, maximum]``, else UsageError."""
    if not _is_number(value) or not (math.isfinite(_as_float(value)) and minimum <= value <= maximum):
        span = f"from {minimum} to {maximum}" if maximum != math.inf else f"of at least {minimum}"
        raise UsageError(_at(where, f"{name} must be a finite number {span}, got {given(value)}"))


def _is_number(value: object) -> TypeGuard[int | float]:
    return type(value) is not bool and isinstance(value, int | float)


def _as_float(value: float) -> float:
    """``value`` as a float; NaN for an int too large for one (no duration or setting is that large)."""
    try:
        return float(value)
    except OverflowError:
        return math.nan


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short when long."""
    text = repr(value[:limit] if isinstance(value, str) else value)
    return text if not isinstance(value, str) or len(value) <= limit else text + "..."


def given(value: object, *, typed: bool = True) -> str:
    """How an error message shows a bad value: its type and (short) repr."""
    if value is None:
        return "None"
    try:
        text = shown(value)
    except ValueError:  # an int too long for repr
        text = "a very long int"
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}" if typed else text


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


__all__ = [
    "ID_LIMIT",
    "check_id",
    "check_instance",
    "check_int",
    "check_mapping",
    "check_number",
    "check_optional_id",
    "check_seconds",
    "given",
    "shown",
    "unstorable_char",
]
