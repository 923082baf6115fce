"""The pydantic models of a workflow file (kern.workflow.yaml documents the format).

Validation does everything that can be checked on one value: types, unknown keys, the one kind key of
each step, and the import paths, which are imported here (so a file that validates names objects that
exist and are of the right sort). Every error is raised with a message that reads on its own; custom
errors carry ``key`` in their context when the error is about a key of the mapping rather than a
value. What needs the whole file (an agent named by a step, sibling names) is checked when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, LiteralString, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kern._private.imports import import_object
from kern.exceptions import UsageError

STEP_KINDS = ("executor", "agent", "team", "parallel", "condition", "loop", "router")
"""The keys that say what a step is; a step without one that has ``steps`` is a group."""

KINDS_TEXT = ", ".join(STEP_KINDS) + " or steps (a group)"

INVALID_STEP = "invalid step"
TAGS = frozenset({*(f"{kind} step" for kind in (*STEP_KINDS, "steps")), INVALID_STEP, "inline", "reference"})
"""The names pydantic puts in an error's location for the branch of a tagged union it took."""


def error(kind: LiteralString, message: str, *, key: object = None) -> PydanticCustomError:
    """A validation error whose message is ``message`` as written (``key``: the key it is about)."""
    context: dict[str, Any] = {"message": message}
    if key is not None:
        context["key"] = key
    return PydanticCustomError(kind, "{message}", context)


def shown(value: object) -> str:
    """``value`` as an error message shows it: a scalar's repr, else its sort."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if not isinstance(value, str | int | float | bool):
        article = "an" if type(value).__name__[:1].lower() in "aeiou" else "a"
        return f"{article} {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- imported objects ---------------------------------------------------------------------------------


def _importer(what: str, accept: Callable[[Any], bool]) -> Callable[[Any], Any]:
    """A validator turning an import path into the object it names, which ``accept`` must take."""

    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise error(
                "import_path", f"expected an import path 'module:attr' naming {what}, got {shown(value)}"
            )
        try:
            found = import_object(value)
        except UsageError as exc:
            raise error("import_path", str(exc)) from None
        if not accept(found):
            raise error("import_kind", f"{value!r} is {shown(found)}, not {what}")
        return found

    return validate


def _is_agent(value: Any) -> bool:
    from kern.agent import Agent

    return isinstance(value, Agent)


def _is_team(value: Any) -> bool:
    from kern.team import Team

    return isinstance(value, Team)


def _is_tool(value: Any) -> bool:
    from kern.tools import Function, Toolkit

    return isinstance(value, Function | Toolkit) or callable(value)


_import_function = _importer("a function", callable)
_import_agent = _importer("an Agent", _is_agent)

FunctionRef = Annotated[Callable[..., Any], PlainValidator(_import_function)]
ToolRef = Annotated[Any, PlainValidator(_importer("a tool (a function, a Function or a Toolkit)", _is_tool))]
TeamRef = Annotated[Any, PlainValidator(_importer("a Team", _is_team))]


def _condition(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise error(
            "condition", f"expected true, false or an import path 'module:function', got {shown(value)}"
        )
    return _import_function(value)


def _text_or_list(value: Any) -> Any:
    if isinstance(value, str) or value is None or _is_list_of_text(value):
        return value
    raise error("instructions", f"expected a string or a list of strings, got {shown(value)}")


def _is_list_of_text(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in cast("list[object]", value))


def _keys(data: object) -> list[Any]:
    return list(cast("dict[Any, Any]", data)) if isinstance(data, dict) else []


def _model_id(value: Any) -> Any:
    return {"id": value} if isinstance(value, str) else value


def _loop_options(value: Any) -> Any:
    return {} if value is None else value


# --- the models -------------------------------------------------------------------------------------


class Spec(BaseModel):
    """A mapping of the file: strict types, and an unknown key is an error that lists the known ones."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    what: ClassVar[str] = "this mapping"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        for key in _keys(data):
            if key not in cls.model_fields:
                known = ", ".join(cls.model_fields)
                raise error("unknown_key", f"unknown key {key!r}; {cls.what} takes {known}", key=key)
        return data


class ModelSpec(Spec):
    """``model:``: a litellm model id, or this mapping."""

    what = "a model"
    id: str
    api_base: str | None = None
    api_key: str | None = None
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    settings: dict[str, Any] = Field(default_factory=dict[str, Any])


class AgentSpec(Spec):
    """An agent defined in the file (under ``agents:`` or inline in a step)."""

    what = "an agent"
    name: str | None = None
    id: str | None = None
    model: Annotated[ModelSpec | None, BeforeValidator(_model_id)] = None
    instructions: Annotated[str | list[str] | None, PlainValidator(_text_or_list)] = None
    description: str | None = None
    tools: list[ToolRef] = Field(default_factory=list[Any])
    markdown: bool = False
    add_session_state_to_context: bool = False
    enable_agentic_state: bool = False
    add_history_to_context: bool = True
    num_history_runs: int = Field(default=3, ge=0)
    tool_call_limit: int | None = Field(default=None, ge=0)


def _agent_form(value: Any) -> str:
    return "inline" if isinstance(value, dict) else "reference"


def _agent_reference(value: Any) -> Any:
    """A name under ``agents:`` (kept as text, resolved when built) or an import path (imported)."""
    if not isinstance(value, str):
        raise error(
            "agent",
            f"expected an agent's name, an import path 'module:attr' or a mapping, got {shown(value)}",
        )
    if ":" not in value:
        return value
    return _import_agent(value)


AgentField = Annotated[
    Annotated[AgentSpec, Tag("inline")] | Annotated[Any, PlainValidator(_agent_reference), Tag("reference")],
    Discriminator(_agent_form),
]


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A duration: a finite number, not negative (``.inf`` and ``.nan`` are refused)."""


class LeafSpec(Spec):
    """What a step that runs one thing (a function, an agent, a team) has: a name, as a Step must."""

    name: str
    description: str | None = None
    on_error: Literal["fail", "skip", "continue"] = "fail"
    retries: int = Field(default=0, ge=0)
    retry_delay: Seconds = 1.0


class CompositeSpec(Spec):
    """What a step that holds steps has; without a name it is named after its kind, as in Python."""

    name: str | None = None
    description: str | None = None


class FunctionStep(LeafSpec):
    what = "a function step"
    executor: FunctionRef


class AgentStep(LeafSpec):
    what = "an agent step"
    agent: AgentField


class TeamStep(LeafSpec):
    what = "a team step"
    team: TeamRef


class ParallelStep(CompositeSpec):
    what = "a parallel step"
    parallel: list[AnyStep] = Field(min_length=1)


class ConditionStep(CompositeSpec):
    what = "a condition step"
    condition: Annotated[Any, PlainValidator(_condition)]
    steps: list[AnyStep] = Field(min_length=1)


class LoopOptions(Spec):
    what = "loop"
    end_condition: FunctionRef | None = None
    max_iterations: int = Field(default=3, ge=1)


class LoopStep(CompositeSpec):
    what = "a loop step"
    loop: Annotated[LoopOptions, BeforeValidator(_loop_options)]
    steps: list[AnyStep] = Field(min_length=1)


class RouterStep(CompositeSpec):
    what = "a router step"
    router: FunctionRef
    choices: list[AnyStep] = Field(min_length=1)


class GroupStep(CompositeSpec):
    what = "a group (steps)"
    steps: list[AnyStep] = Field(min_length=1)


def _step_kind(value: Any) -> str:
    """The tag of the step model ``value`` is validated with."""
    if not isinstance(value, dict):
        return INVALID_STEP
    kinds = [kind for kind in STEP_KINDS if kind in value]
    if len(kinds) == 1:
        return f"{kinds[0]} step"
    if not kinds and "steps" in value:
        return "steps step"
    return INVALID_STEP


def _invalid_step(value: Any) -> Any:
    """The error for a step that is not a mapping with exactly one kind key."""
    if not isinstance(value, dict):
        raise error("step", f"a step is a mapping with a name and one of {KINDS_TEXT}; got {shown(value)}")
    mapping = cast("dict[Any, Any]", value)
    kinds = [key for key in mapping if key in STEP_KINDS]  # in the file's order
    if kinds:
        raise error(
            "step_kinds",
            f"a step has one kind key, this one has {len(kinds)}: {', '.join(kinds)}",
            key=kinds[1],
        )
    known = {"name", "description", "on_error", "retries", "retry_delay", "steps", "choices"}
    unknown = [key for key in mapping if key not in known]
    if unknown:
        raise error(
            "step_kind", f"unknown step kind {unknown[0]!r}; a step is one of {KINDS_TEXT}", key=unknown[0]
        )
    raise error("step_kind", f"the step has no kind key; give it one of {KINDS_TEXT}")


AnyStep = Annotated[
    Annotated[FunctionStep, Tag("executor step")]
    | Annotated[AgentStep, Tag("agent step")]
    | Annotated[TeamStep, Tag("team step")]
    | Annotated[ParallelStep, Tag("parallel step")]
    | Annotated[ConditionStep, Tag("condition step")]
    | Annotated[LoopStep, Tag("loop step")]
    | Annotated[RouterStep, Tag("router step")]
    | Annotated[GroupStep, Tag("steps step")]
    | Annotated[Any, PlainValidator(_invalid_step), Tag(INVALID_STEP)],
    Discriminator(_step_kind),
]


class WorkflowSpec(Spec):
    """The whole file."""

    what = "a workflow"
    name: str
    id: str | None = None
    description: str | None = None
    session_state: dict[str, Any] | None = None
    agents: dict[str, AgentSpec] = Field(default_factory=dict[str, AgentSpec])
    steps: list[AnyStep] = Field(min_length=1)


for _model in (ParallelStep, ConditionStep, LoopStep, RouterStep, GroupStep, WorkflowSpec):
    _model.model_rebuild()
