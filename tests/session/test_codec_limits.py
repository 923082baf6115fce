"""The codec's limits are the stores' limits (DESIGN.md §4): what it refuses, it refuses inside the tool call
that put the value in the state, naming the path; what it accepts, every backend stores and gives back.

Found by writing raw values to the real stores: SQLite's JSON text and PostgreSQL's JSONB both fail on an int
of more than 4300 digits (Python's int/str conversion limit, ``sys.get_int_max_str_digits()``, hit by the
JSON encoder at commit); JSONB rejects NaN/±Infinity, ``\\u0000`` and lone surrogates (which the codec stores
tagged) and holds ints of up to 131072 digits (so the limit is Python's, the same for every backend).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.exceptions import StateSerializationError
from kern.session.codec import decode, encode, encode_state, int_digit_limit
from kern.session.schema import SessionType
from kern.session.status import RunStatus
from kern.testing import ScriptedModel, tool_call

LONGEST = 10**4300 - 1
"""The largest int the stores hold: 4300 digits."""

TOO_LONG = 10**4300
"""4301 digits: what json.dumps (and so every store) refuses."""


class Huge(IntEnum):
    """An IntEnum member encodes as its value."""

    BIG = TOO_LONG


@pytest.fixture
def db(agent_db: SyncDb) -> SyncDb:
    """A fresh store on each backend (the Agent tests' ``agent_db``)."""
    return agent_db


def _set_title(value: object) -> Callable[[dict[str, Any]], None]:
    def write(state: dict[str, Any]) -> None:
        state["tasks"][2]["title"] = value

    return write


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def write(state: dict[str, Any]) -> None:
        state[key] = value

    return write


def _set_top_key(key: object) -> Callable[[dict[str, Any]], None]:
    def write(state: dict[str, Any]) -> None:
        state[key] = 1  # pyright: ignore[reportArgumentType]

    return write


# (what the tool writes, the path the error names)
UNSTORABLE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "int of 4301 digits": (_set_title(TOO_LONG), "session_state.tasks[2].title"),
    "negative int of 4301 digits": (_set_title(-TOO_LONG), "session_state.tasks[2].title"),
    "huge int in a list": (_set("scores", [1, 2, TOO_LONG]), "session_state.scores[2]"),
    "huge int in a tuple": (_set("pair", (1, TOO_LONG)), "session_state.pair[1]"),
    "huge int in a set": (_set("seen", {TOO_LONG}), "session_state.seen{}"),
    "huge IntEnum": (_set("level", Huge.BIG), "session_state.level"),
    "huge int as a nested key": (
        _set("by_id", {TOO_LONG: "x"}),
        "session_state.by_id[<an int key too long to show>]",
    ),
    "huge int under a nested non-str key": (_set("by_id", {7: TOO_LONG}), "session_state.by_id[7]"),
    "int top-level key": (_set_top_key(1), "session_state"),
    "NUL in a top-level key": (_set_top_key("a\x00b"), "session_state"),
    "lone surrogate in a top-level key": (_set_top_key("\ud800"), "session_state"),
    "reserved top-level key": (_set_top_key("__kern__"), "session_state"),
}


@pytest.mark.parametrize("write", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_unstorable_value_fails_its_tool_call_and_the_run_commits(
    db: SyncDb, write: tuple[Callable[[dict[str, Any]], None], str]
) -> None:
    """A value no store can hold is the error result of the tool call that wrote it, naming the path;
    the state is put back and the run completes and commits on every backend."""
    put, path = write

    def put_value(session_state: dict[str, Any]) -> str:
        """Write the value."""
        put(session_state)
        return "written"

    initial = {"tasks": [{"title": "a"}, {"title": "b"}, {"title": "c"}]}
    model = ScriptedModel(tool_call("put_value"), "could not store it")
    agent = Agent(model=model, db=db, tools=[put_value], session_state=initial)
    output = agent.run("store it")
    (execution,) = output.tools
    assert execution.is_error
    assert (execution.result or "").startswith("Error: StateSerializationError: ")
    assert f" at {path}" in (execution.result or "")
    assert output.status is RunStatus.completed
    assert output.content == "could not store it"
    session = db.get_session(agent.default_session_id, SessionType.AGENT)
    assert session is not None
    assert [run.status for run in session.runs] == [RunStatus.completed]
    assert session.session_state == initial


def test_unstorable_run_state_is_refused_before_anything_is_written(db: SyncDb) -> None:
    """A too-long int passed as session_state= raises StateSerializationError naming it; nothing runs."""
    model = ScriptedModel()
    agent = Agent(model=model, db=db)
    with pytest.raises(StateSerializationError, match=r"at session_state\.big"):
        agent.run("hi", session_state={"big": TOO_LONG})
    assert model.requests == []
    assert db.get_session(agent.default_session_id, SessionType.AGENT) is None


# Values at the edge of what the stores hold, or that they only hold because the codec tags them.
EDGE: dict[str, object] = {
    "int of 4300 digits": LONGEST,
    "negative int of 4300 digits": -LONGEST,
    "int of 2**64": 2**64,
    "int of 4300 digits as a nested key": {LONGEST: "x"},
    "positive infinity": math.inf,
    "negative infinity": -math.inf,
    "negative zero": -0.0,
    "largest float": sys.float_info.max,
    "smallest subnormal float": 5e-324,
    "NUL in a string": "a\x00b",
    "lone surrogates in a string": "x\ud800y\udfff",
    "NUL in a nested key": {"a\x00": 1},
    "lone surrogate in a nested key": {"\udc80": 1},
    "int nested key": {1: "one"},
    "None and tuple nested keys": {None: 0, (1, "a"): 2},
}


@pytest.mark.parametrize("value", EDGE.values(), ids=EDGE.keys())
def test_value_the_codec_accepts_round_trips_on_every_backend(db: SyncDb, value: object) -> None:
    """A value at the edge of the stores' limits, written by a tool, reads back equal from each backend."""

    def put_value(session_state: dict[str, Any]) -> str:
        """Write the value."""
        session_state["value"] = value
        return "written"

    agent = Agent(model=ScriptedModel(tool_call("put_value"), "ok"), db=db, tools=[put_value])
    output = agent.run("store it")
    assert not output.tools[0].is_error, output.tools[0].result
    stored = Agent(model=ScriptedModel(), db=db, session_id=agent.session_id).get_session_state()
    assert stored == {"value": value}
    assert type(stored["value"]) is type(value)


def test_nan_round_trips_on_every_backend(db: SyncDb) -> None:
    """NaN (which JSONB and strict JSON reject) is stored and reads back as NaN."""
    agent = Agent(model=ScriptedModel("ok"), db=db)
    agent.run("hi", session_state={"ratio": math.nan})
    assert math.isnan(agent.get_session_state()["ratio"])


def test_digit_limit_is_pythons_default() -> None:
    """The limit is 4300 digits, Python's default int/str limit, whatever PostgreSQL could hold beyond it."""
    assert int_digit_limit() == sys.int_info.default_max_str_digits == 4300
    assert encode(LONGEST) == LONGEST
    with pytest.raises(StateSerializationError, match="more than 4300 digits at value"):
        encode(TOO_LONG)


def test_raised_interpreter_limit_does_not_raise_the_codecs() -> None:
    """With Python's limit lifted, the codec still refuses 4301 digits: every process must read the state."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        with pytest.raises(StateSerializationError, match="more than 4300 digits"):
            encode_state({"big": TOO_LONG})
    finally:
        sys.set_int_max_str_digits(before)


def test_lowered_interpreter_limit_lowers_the_codecs() -> None:
    """A process that lowered Python's limit cannot write longer ints, so the codec refuses them there."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1000)
    try:
        assert decode(encode(10**999)) == 10**999
        with pytest.raises(StateSerializationError, match=r"more than 1000 digits at session_state\.big"):
            encode_state({"big": 10**1000})
    finally:
        sys.set_int_max_str_digits(before)


@pytest.mark.parametrize("key", [1, None, 2.5, ("a", 1)], ids=["int", "None", "float", "tuple"])
def test_top_level_key_that_is_not_a_str_is_named_in_the_error(key: object) -> None:
    """A non-str top-level key is refused with a sentence saying it is not a str."""
    with pytest.raises(StateSerializationError, match=r"is of type \w+, not str"):
        encode_state({key: 1})  # pyright: ignore[reportArgumentType]
