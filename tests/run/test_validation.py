"""Bad input gets a sentence (issue 12): a UsageError naming the parameter, what was given and what is
accepted, raised before anything is claimed or written; an unknown option is a TypeError, as a Python
function's unexpected keyword argument is."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from kern.agent import Agent
from kern.db.base import SyncDb
from kern.db.in_memory import InMemoryDb
from kern.exceptions import UsageError
from kern.memory.manager import MemoryManager
from kern.models.litellm import LiteLLM
from kern.models.message import Message
from kern.models.openai import OpenAIChat
from kern.run.runnable import Runnable
from kern.session.summary import SessionSummaryManager
from kern.team import Team
from kern.testing import FunctionModel, ScriptedModel, TestModel
from kern.workflow import Step, StepInput, Workflow


@pytest.fixture
def db(agent_db: SyncDb) -> SyncDb:
    """A fresh store on each backend (the Agent tests' ``agent_db``)."""
    return agent_db


def first_step(step_input: StepInput) -> str:
    """A function step."""
    return step_input.input


def an_agent(**kwargs: Any) -> Agent:
    return Agent(model=ScriptedModel("ok"), **kwargs)


def a_team(**kwargs: Any) -> Team:
    return Team(model=ScriptedModel("ok"), members=[an_agent(id="member")], **kwargs)


def a_workflow(**kwargs: Any) -> Workflow:
    return Workflow(**{"name": "flow", "steps": [first_step], **kwargs})


def options(name: str, value: Any) -> dict[str, Any]:
    """One run option, typed loosely: the tests pass what the annotations forbid."""
    return {name: value}


BUILDERS: dict[str, Callable[..., Runnable]] = {"Agent": an_agent, "Team": a_team, "Workflow": a_workflow}


# --- ids and the other options of a run ---------------------------------------------------------------------

BAD_IDS: dict[str, object] = {
    "empty": "",
    "NUL": "a\x00b",
    "lone surrogate": "a\ud800",
    "int": 123,
    "bytes": b"s1",
    "256 characters": "x" * 256,
}
ID_OPTIONS = ["session_id", "user_id", "idempotency_key"]


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize("option", ID_OPTIONS)
def test_bad_id_of_a_run_is_refused_before_anything_is_written(db: SyncDb, option: str, value: Any) -> None:
    """A bad session_id/user_id/idempotency_key raises UsageError naming it, on every backend, and
    nothing is claimed, written or sent to the model."""
    model = ScriptedModel("never")
    agent = Agent(model=model, db=db)
    with pytest.raises(UsageError, match=rf"^run\(\): {option} "):
        agent.run("hi", **options(option, value))
    assert model.requests == []
    assert db.get_sessions() == []


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize("kind", BUILDERS)
def test_bad_id_is_refused_by_every_runnable(kind: str, value: Any) -> None:
    """Agents, Teams and Workflows share the check: a bad session_id on their run is a UsageError."""
    with pytest.raises(UsageError, match=r"session_id "):
        BUILDERS[kind]().run("hi", session_id=value)


@pytest.mark.parametrize("option", ["session_id", "user_id"])
def test_empty_id_is_not_silently_the_default(option: str) -> None:
    """session_id="" / user_id="" used to run on the default session / as no user: now a sentence."""
    with pytest.raises(UsageError, match="is empty"):
        an_agent().run("hi", **options(option, ""))


def test_id_at_the_length_limit_runs(db: SyncDb) -> None:
    """An id of 255 characters of any script (the column's width) is accepted on every backend."""
    session_id = "é" * 200 + "s" * 55
    output = Agent(model=ScriptedModel("ok"), db=db).run("hi", session_id=session_id, user_id="u" * 255)
    assert output.session_id == session_id


@pytest.mark.parametrize("option", ["session_state", "dependencies", "metadata"])
@pytest.mark.parametrize("value", [[1, 2], "text", 3], ids=["list", "str", "int"])
def test_mapping_option_that_is_not_a_mapping_is_refused(option: str, value: Any) -> None:
    """session_state=[1, 2] (an AttributeError deep in the run before) is a UsageError naming it."""
    model = ScriptedModel("never")
    with pytest.raises(UsageError, match=rf"{option} must be a dict \(any Mapping\) or None, got"):
        Agent(model=model).run("hi", **options(option, value))
    assert model.requests == []


@pytest.mark.parametrize(
    "value",
    [123, None, b"hi", ["hi"], "a\x00b", "a\ud800", Message(role="user", content="a\x00")],
    ids=["int", "None", "bytes", "list", "NUL", "lone surrogate", "Message with NUL"],
)
def test_bad_input_is_refused(value: Any) -> None:
    """run(123) (a pydantic ValidationError before) and input no store can hold raise UsageError."""
    model = ScriptedModel("never")
    with pytest.raises(UsageError, match=r"^run\(\): the input "):
        Agent(model=model).run(value)
    assert model.requests == []


def test_message_input_runs() -> None:
    """A kern Message is accepted as the input, as is a str."""
    assert an_agent().run(Message(role="user", content="hi")).content == "ok"


@pytest.mark.parametrize(
    "value", [0, -1, math.nan, math.inf, True, "5"], ids=["zero", "negative", "NaN", "inf", "bool", "str"]
)
def test_bad_run_timeout_is_refused(value: Any) -> None:
    """timeout= must be finite seconds above 0."""
    with pytest.raises(UsageError, match=r"timeout must be a number of seconds"):
        an_agent().run("hi", timeout=value)  # pyright: ignore[reportArgumentType]


def test_run_timeout_is_carried_on_the_call() -> None:
    """A valid timeout= reaches RunCall.timeout (the run's machinery applies it)."""
    agent = an_agent()
    assert agent._call("hi", False, {"timeout": 2.5}, "run").timeout == 2.5  # pyright: ignore[reportPrivateUsage]
    assert agent._call("hi", False, {}, "run").timeout is None  # pyright: ignore[reportPrivateUsage]


def test_background_that_is_not_a_task_group_is_refused() -> None:
    """background= takes an anyio task group; anything else is a UsageError, not an AttributeError later."""

    async def main() -> None:
        await an_agent().arun("hi", background="later")  # pyright: ignore[reportArgumentType]

    with pytest.raises(UsageError, match="background must be an anyio task group"):
        anyio.run(main)


# --- unknown options ------------------------------------------------------------------------------------


def _run(runnable: Runnable, **options: Any) -> object:
    return runnable.run("hi", **options)


def _print(runnable: Runnable, **options: Any) -> object:
    return runnable.print_response("hi", **options)


def _arun(runnable: Runnable, **options: Any) -> object:
    async def main() -> object:
        return await runnable.arun("hi", **options)

    return anyio.run(main)


def _arun_stream(runnable: Runnable, **options: Any) -> object:
    async def main() -> object:
        return runnable.arun("hi", stream=True, **options)

    return anyio.run(main)


def _aprint(runnable: Runnable, **options: Any) -> object:
    async def main() -> object:
        return await runnable.aprint_response("hi", **options)

    return anyio.run(main)


FACES: dict[str, Callable[..., object]] = {
    "run": _run,
    "print_response": _print,
    "arun": _arun,
    "arun(stream=True)": _arun_stream,
    "aprint_response": _aprint,
}


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("kind", BUILDERS)
def test_unknown_option_raises_type_error_naming_it(kind: str, face: str) -> None:
    """agent.run("hi", sesion_id="s1") ran on the default session; now it is a TypeError naming the
    option and the closest one, for every face of every runnable."""
    runnable = BUILDERS[kind](db=InMemoryDb())
    name = face.split("(")[0]
    expected = rf"^{name}\(\) got an unexpected keyword argument 'sesion_id'; did you mean 'session_id'\?$"
    with pytest.raises(TypeError, match=expected):
        FACES[face](runnable, sesion_id="s1")
    assert runnable.get_session("s1") is None


def test_unknown_option_without_a_close_match_lists_the_options() -> None:
    """An option unlike any lists the accepted ones."""
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz' \(the options are .*session_id"):
        an_agent().run("hi", zzz=1)  # pyright: ignore[reportCallIssue]


# --- the parameters of a definition -----------------------------------------------------------------------

# (parameter, bad value, what the message says)
COMMON_BAD: list[tuple[str, object, str]] = [
    ("lease_seconds", 0, "lease_seconds must be a number of seconds, more than 0 and finite"),
    ("lease_seconds", -1, "lease_seconds must be"),
    ("lease_seconds", math.nan, "lease_seconds must be"),
    ("lease_seconds", math.inf, "lease_seconds must be"),
    ("lease_seconds", True, "lease_seconds must be"),
    ("lease_seconds", "30", "lease_seconds must be"),
    ("busy_timeout", -1, "busy_timeout must be a number of seconds, 0 or more"),
    ("busy_timeout", math.nan, "busy_timeout must be"),
    ("busy_timeout", False, "busy_timeout must be"),
    ("on_busy", "never", "on_busy must be 'wait' or 'reject'"),
    ("session_id", "", "session_id is empty"),
    ("session_id", "a\x00", "session_id 'a\\\\x00' contains a NUL"),
    ("session_id", 7, "session_id must be a str id"),
    ("user_id", "", "user_id is empty"),
    ("user_id", "\udfff", "user_id '\\\\udfff' contains a lone surrogate"),
    ("id", "", "id is empty"),
    ("id", "x" * 256, "id is 256 characters long"),
    ("name", 5, "name must be a str or None"),
    ("name", "n" * 300, "the id made from name= is 300 characters long"),
    ("session_state", [1, 2], "session_state must be a dict"),
    ("dependencies", [1], "dependencies must be a dict"),
    ("metadata", "x", "metadata must be a dict"),
]
DEFINITION_BAD: list[tuple[str, object, str]] = [
    ("num_history_runs", -1, "num_history_runs must be at least 0"),
    ("num_history_runs", True, "num_history_runs must be an int"),
    ("num_history_runs", 1.5, "num_history_runs must be an int"),
    ("num_history_runs", None, "num_history_runs must be an int"),
    ("retries", -1, "retries must be at least 0"),
    ("retries", True, "retries must be an int of at least 0 or None"),
    ("tool_call_limit", -1, "tool_call_limit must be at least 0"),
    ("tool_call_limit", 2.0, "tool_call_limit must be an int"),
    ("tool_timeout", 0, "tool_timeout must be a number of seconds, more than 0 and finite"),
    ("tool_timeout", -5, "tool_timeout must be"),
    ("tool_timeout", math.nan, "tool_timeout must be"),
    ("tool_timeout", math.inf, "tool_timeout must be"),
    ("tool_timeout", True, "tool_timeout must be"),
    ("tools", first_step, "tools must be a list of functions"),
    ("tools", "first_step", "tools must be a list of functions"),
    ("output_schema", dict, "output_schema must be a pydantic model class"),
    ("memory_manager", "mm", "memory_manager must be a MemoryManager"),
    ("session_summary_manager", 1, "session_summary_manager must be a SessionSummaryManager"),
]
CASES = (
    [(kind, *case) for kind in BUILDERS for case in COMMON_BAD]
    + [(kind, *case) for kind in ("Agent", "Team") for case in DEFINITION_BAD]
    + [
        ("Team", "max_concurrency", 0, "max_concurrency must be at least 1"),
        ("Team", "max_concurrency", True, "max_concurrency must be an int"),
        ("Team", "mode", "solo", "mode must be one of coordinate, route, broadcast"),
    ]
)


@pytest.mark.parametrize(
    ("kind", "parameter", "value", "message"),
    CASES,
    ids=[f"{kind}-{parameter}={value!r:.20}" for kind, parameter, value, _ in CASES],
)
def test_bad_parameter_is_refused_at_construction(
    kind: str, parameter: str, value: Any, message: str
) -> None:
    """Each bad parameter raises UsageError naming the class and the parameter when the definition is built
    (lease_seconds=-1 used to run and end in a raw ExceptionGroup(ValueError); 0 renewed in a busy loop)."""
    with pytest.raises(UsageError, match=rf"^{kind}: {message}"):
        BUILDERS[kind](**{parameter: value})


def test_members_must_be_agents_or_teams() -> None:
    """A member that is not an Agent or a Team is named by its index."""
    with pytest.raises(UsageError, match=r"^Team: members\[1\] must be an Agent or a Team, got str 'helper'"):
        Team(model=ScriptedModel(), members=[an_agent(id="a"), "helper"])  # pyright: ignore[reportArgumentType]
    with pytest.raises(UsageError, match=r"^Team: members must be a list"):
        Team(model=ScriptedModel(), members=an_agent())  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("kind", BUILDERS)
def test_edge_values_that_make_sense_are_accepted(kind: str) -> None:
    """busy_timeout=0 (do not wait), busy_timeout=inf (wait as long as it takes), small leases."""
    runnable = BUILDERS[kind](busy_timeout=0, lease_seconds=0.5)
    assert runnable.run("hi").status.value == "completed"
    assert BUILDERS[kind](busy_timeout=math.inf).busy_timeout == math.inf


def test_tool_timeout_is_a_definition_parameter() -> None:
    """tool_timeout is kept on Agent and Team (the tool-call machinery applies it); None by default."""
    assert an_agent().tool_timeout is None
    assert an_agent(tool_timeout=2.5).tool_timeout == 2.5
    assert a_team(tool_timeout=1).tool_timeout == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": -1}, "retries must be at least 0"),
        ({"retries": True}, "retries must be an int"),
        ({"retries": 1.0}, "retries must be an int"),
        ({"retry_delay": -1}, "retry_delay must be a number of seconds, 0 or more"),
        ({"retry_delay": math.nan}, "retry_delay must be"),
        ({"retry_delay": math.inf}, "retry_delay must be"),
        ({"retry_delay": "1"}, "retry_delay must be"),
    ],
)
def test_bad_step_retry_parameter_is_refused(kwargs: dict[str, Any], message: str) -> None:
    """A Step's retries is an int of 0 or more and its retry_delay finite seconds of 0 or more."""
    with pytest.raises(UsageError, match=rf"^step 's': {message}"):
        Step(name="s", executor=first_step, **kwargs)


# --- models and the managers --------------------------------------------------------------------------------

MODEL_CASES: list[tuple[Callable[..., object], dict[str, Any], str]] = [
    (LiteLLM, {"id": 123}, "LiteLLM: a model id is required"),
    (LiteLLM, {"id": "openai/x", "retries": -1}, "LiteLLM: retries must be at least 0"),
    (LiteLLM, {"id": "openai/x", "retries": True}, "LiteLLM: retries must be an int"),
    (LiteLLM, {"id": "openai/x", "timeout": 0}, "LiteLLM: timeout must be a number of seconds"),
    (LiteLLM, {"id": "openai/x", "timeout": math.nan}, "LiteLLM: timeout must be"),
    (LiteLLM, {"id": "openai/x", "timeout": math.inf}, "LiteLLM: timeout must be"),
    (LiteLLM, {"id": "openai/x", "timeout": True}, "LiteLLM: timeout must be"),
    (LiteLLM, {"id": "openai/x", "temperature": math.nan}, "LiteLLM: temperature must be a finite number"),
    (LiteLLM, {"id": "openai/x", "temperature": -0.5}, "LiteLLM: temperature must be"),
    (LiteLLM, {"id": "openai/x", "top_p": 1.5}, "LiteLLM: top_p must be a finite number from 0.0 to 1.0"),
    (LiteLLM, {"id": "openai/x", "max_tokens": 0}, "LiteLLM: max_tokens must be at least 1"),
    (LiteLLM, {"id": "openai/x", "max_tokens": True}, "LiteLLM: max_tokens must be an int"),
    (LiteLLM, {"id": "openai/x", "api_base": 8080}, "LiteLLM: api_base must be a URL str"),
    (OpenAIChat, {"id": None}, "OpenAIChat: id must be a model name str"),
    (OpenAIChat, {"id": "gpt-4o", "retries": -2}, "OpenAIChat: retries must be at least 0"),
    (ScriptedModel, {"retries": -1}, "ScriptedModel: retries must be at least 0"),
    (ScriptedModel, {"retries": False}, "ScriptedModel: retries must be an int"),
    (ScriptedModel, {"id": ""}, "ScriptedModel: id must be a non-empty str"),
    (TestModel, {"retries": 1.5}, "TestModel: retries must be an int"),
    (TestModel, {"answer": 42}, "TestModel: answer must be a str or None"),
    (FunctionModel, {"fn": "not callable"}, "FunctionModel takes a function of the request"),
    (FunctionModel, {"fn": lambda request: "ok", "retries": -1}, "FunctionModel: retries must be at least 0"),
    (MemoryManager, {"limit": 0}, "MemoryManager: limit must be at least 1"),
    (MemoryManager, {"limit": True}, "MemoryManager: limit must be an int"),
    (MemoryManager, {"prompt": ""}, "MemoryManager: prompt must be a non-empty str"),
    (MemoryManager, {"model": "openai/gpt-4o"}, "MemoryManager: model must be a Model or None"),
    (SessionSummaryManager, {"prompt": None}, "SessionSummaryManager: prompt must be a non-empty str"),
    (SessionSummaryManager, {"model": 1}, "SessionSummaryManager: model must be a Model or None"),
]


@pytest.mark.parametrize(
    ("build", "kwargs", "message"),
    MODEL_CASES,
    ids=[f"{getattr(b, '__name__', b)}-{k}" for b, k, _ in MODEL_CASES],
)
def test_bad_model_or_manager_argument_is_refused(
    build: Callable[..., object], kwargs: dict[str, Any], message: str
) -> None:
    """Model and manager constructors name the class and the argument (timeout > 0 and finite, retries
    an int of 0 or more, sampling settings in range)."""
    with pytest.raises(UsageError, match=rf"^{message}"):
        build(**kwargs)


# --- the session API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda agent: agent.get_session_state(session_id=""),
        lambda agent: agent.get_session(session_id="a\x00"),
        lambda agent: agent.get_chat_history(user_id=""),
        lambda agent: agent.get_session_summary(session_id=5),
        lambda agent: agent.delete_session(session_id="\ud800"),
        lambda agent: agent.update_session_state({"a": 1}, session_id=""),
        lambda agent: agent.update_session_state([("a", 1)]),
    ],
    ids=["state", "session", "history", "summary", "delete", "update id", "update not a mapping"],
)
def test_session_api_checks_its_ids_and_updates(call: Callable[[Agent], object]) -> None:
    """The session faces take ids by the same rule (None: the definition's), and updates as a Mapping."""
    with pytest.raises(UsageError, match=r"session_id|user_id|Mapping"):
        call(an_agent())


def test_id_limit_is_the_tables_width() -> None:
    """The id check's limit is the one the store's columns hold (kern.db._sql.sessions.ID_LIMIT)."""
    from kern._private.validate import ID_LIMIT
    from kern.db._sql.sessions import ID_LIMIT as TABLES_ID_LIMIT

    assert ID_LIMIT == TABLES_ID_LIMIT == 255
