"""The parameters Agents and Teams share (named as the seeds name them) and what is derived from them.

A definition is a frozen dataclass: immutable once built, so one object serves any number of
concurrent runs. What it derives once (its id, its default session, its model, its tools, the sections
of its system message) is computed in ``__post_init__``; subclasses add their own parameters and say
what they add to the tools (:meth:`Definition.extra_functions`) and to the system message
(:meth:`Definition.extra_sections`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from pydantic import BaseModel

from kern._private.validate import check_instance, check_int, check_seconds, given
from kern.db.base import BaseDb
from kern.db.records import OnBusy
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import UsageError
from kern.memory.agentic import agentic_memory_tool
from kern.memory.manager import DEFAULT_MEMORY_LIMIT, MemoryManager
from kern.models.base import Model
from kern.run.agentic_state import agentic_state_tool
from kern.run.post_run import PostRunPlan
from kern.run.prompt import PromptParts
from kern.run.runnable import Runnable, check_definition, process_store, resolve_model, slug
from kern.run.tool_calls import Confirm, ToolBox
from kern.session.summary import SessionSummaryManager
from kern.tools import Function, Toolkit, resolve_tools

ToolLike = Callable[..., Any] | Function | Toolkit
"""What ``tools=`` takes: plain functions, ``@tool`` Functions, Toolkits."""


@dataclass(frozen=True, kw_only=True, eq=False, slots=True)
class Definition(Runnable):
    """The shared parameters of Agent and Team; see their docstrings for what each does.

    Every parameter is checked when the definition is built (UsageError naming it): ids are non-empty
    strs of at most 255 characters without NUL or lone surrogates; ``num_history_runs``, ``retries``
    and ``tool_call_limit`` ints (not bools) of 0 or more; ``busy_timeout`` seconds of 0 or more
    (``math.inf``: wait as long as it takes); ``lease_seconds`` and ``tool_timeout`` finite seconds
    above 0. ``tool_timeout``: a tool call that takes longer becomes an error result the model sees
    (None: no limit).
    """

    model: Model | str | None = None
    id: str | None = None
    name: str | None = None
    db: BaseDb | None = None
    tools: Sequence[ToolLike] = ()
    instructions: str | Sequence[str] | None = None
    description: str | None = None
    markdown: bool = False
    session_id: str | None = None
    user_id: str | None = None
    session_state: Mapping[str, Any] | None = None
    add_session_state_to_context: bool = False
    enable_agentic_state: bool = False
    overwrite_db_session_state: bool = False
    add_history_to_context: bool = True
    num_history_runs: int = 3
    dependencies: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    retries: int | None = None
    tool_call_limit: int | None = None
    output_schema: type[BaseModel] | None = None
    enable_session_summaries: bool = False
    session_summary_manager: SessionSummaryManager | None = None
    add_session_summary_to_context: bool = False
    update_memory_on_run: bool = False
    enable_agentic_memory: bool = False
    memory_manager: MemoryManager | None = None
    add_memories_to_context: bool | None = None
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    tool_timeout: float | None = None
    """Seconds a tool call may take; one that takes longer becomes an error result the model sees."""
    _derived: _Derived = field(init=False, repr=False)

    default_id: ClassVar[str] = "definition"
    """The id when neither ``id`` nor ``name`` gives one."""

    def __post_init__(self) -> None:
        check_definition(self, id=self.id, name=self.name, session_id=self.session_id)
        _check_parameters(self)
        derived = _Derived(self)
        object.__setattr__(self, "_derived", derived)
        object.__setattr__(self, "id", derived.component_id)
        object.__setattr__(self, "session_id", derived.session_id)

    def extra_functions(self) -> Sequence[Function]:
        """Tools the definition adds to its own ``tools`` (a Team: its delegation tool)."""
        return ()

    def extra_sections(self) -> Sequence[str]:
        """Sections it adds to its system message (a Team: its member roster)."""
        return ()

    def confirm(self) -> Confirm | None:
        """Who confirms the calls of tools that require it (None: nobody, so they are refused)."""
        return None

    @property
    def component_id(self) -> str:
        """The id runs and sessions are stored under: ``id``, else derived from ``name``."""
        return self._derived.component_id

    @property
    def default_session_id(self) -> str:
        """The session runs use when the call names none (generated when the definition was built)."""
        return self._derived.session_id

    @property
    def store(self) -> SessionStore:
        """The store runs persist to: the ``db``'s, or the process's in-memory one."""
        return self.db.store if self.db is not None else process_store()

    @property
    def resolved_model(self) -> Model:
        """The model runs call."""
        return self._derived.model

    @property
    def toolbox(self) -> ToolBox:
        """The tools runs may call."""
        return self._derived.toolbox

    @property
    def prompt(self) -> PromptParts:
        """What the system message is made of."""
        return self._derived.prompt

    @property
    def post_run_plan(self) -> PostRunPlan | None:
        """What runs after each run: the summary update, memory learning (None: nothing)."""
        return self._derived.post_run

    @property
    def show_summary(self) -> bool:
        """Whether runs show the session summary (and only the history after it)."""
        return self.add_session_summary_to_context

    @property
    def memory_limit(self) -> int | None:
        """How many of the user's memories runs load (None: runs use no memories)."""
        return self._derived.memory_limit


def _check_parameters(definition: Definition) -> None:
    """UsageError naming the parameter, for the ones Agent and Team share beyond every runnable's."""
    where = type(definition).__name__
    check_int(definition.num_history_runs, "num_history_runs", minimum=0, where=where)
    check_int(definition.retries, "retries", minimum=0, optional=True, where=where)
    check_int(definition.tool_call_limit, "tool_call_limit", minimum=0, optional=True, where=where)
    check_seconds(definition.tool_timeout, "tool_timeout", optional=True, where=where)
    tools = cast(object, definition.tools)
    if isinstance(tools, str | bytes) or not isinstance(tools, Sequence):
        raise UsageError(
            f"{where}: tools must be a list of functions, Functions or Toolkits, got {given(tools)}"
        )
    schema = cast(object, definition.output_schema)
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise UsageError(
            f"{where}: output_schema must be a pydantic model class, got {given(cast(object, schema))}"
        )
    check_instance(definition.memory_manager, MemoryManager, "memory_manager", "a MemoryManager", where=where)
    check_instance(
        definition.session_summary_manager,
        SessionSummaryManager,
        "session_summary_manager",
        "a SessionSummaryManager",
        where=where,
    )


class _Derived:
    """What a definition derives from its parameters once."""

    def __init__(self, definition: Definition) -> None:
        self.component_id = definition.id or slug(definition.name) or definition.default_id
        self.session_id = definition.session_id or str(uuid.uuid4())
        self.model = resolve_model(definition.model)
        agentic = [agentic_state_tool()] if definition.enable_agentic_state else []
        if definition.enable_agentic_memory:
            agentic.append(agentic_memory_tool())
        functions = resolve_tools([*definition.tools, *agentic, *definition.extra_functions()])
        self.toolbox = ToolBox(
            functions={f.name: f for f in functions},
            source=self.component_id,
            confirm=definition.confirm(),
            timeout=definition.tool_timeout,
        )
        instructions = definition.instructions
        toolkits = [t.instructions for t in definition.tools if isinstance(t, Toolkit) and t.instructions]
        self.prompt = PromptParts(
            description=definition.description,
            instructions=(instructions,) if isinstance(instructions, str) else tuple(instructions or ()),
            tool_instructions=(*definition.extra_sections(), *toolkits),
            markdown=definition.markdown,
            output_schema=definition.output_schema,
            add_session_state=definition.add_session_state_to_context,
            add_summary=definition.add_session_summary_to_context,
            add_memories=_memories_in_context(definition),
        )
        summaries = definition.session_summary_manager or (
            SessionSummaryManager() if definition.enable_session_summaries else None
        )
        learning = (definition.memory_manager or MemoryManager()) if definition.update_memory_on_run else None
        self.post_run = (
            PostRunPlan(model=self.model, summaries=summaries, memories=learning)
            if summaries is not None or learning is not None
            else None
        )
        limit = (
            definition.memory_manager.limit if definition.memory_manager is not None else DEFAULT_MEMORY_LIMIT
        )
        self.memory_limit = limit if self.prompt.add_memories or _uses_memories(definition) else None


def _uses_memories(definition: Definition) -> bool:
    """Whether runs learn or manage the user's memories."""
    return definition.update_memory_on_run or definition.enable_agentic_memory


def _memories_in_context(definition: Definition) -> bool:
    """``add_memories_to_context``, on by default when the definition uses memories."""
    if definition.add_memories_to_context is not None:
        return definition.add_memories_to_context
    return _uses_memories(definition)
