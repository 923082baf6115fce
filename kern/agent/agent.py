"""The Agent definition: a model, its tools and instructions, run on persistent sessions.

An Agent is immutable once built and can serve any number of concurrent runs for different users:
everything that belongs to one run lives in its RunContext. ``arun`` and ``aprint_response`` are the
implementation; ``run`` and ``print_response`` drive them from sync code (kern._private.sync).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import anyio
from pydantic import BaseModel

from kern._private.sync import iterate_sync, run_sync
from kern.agent._prompt import PromptParts
from kern.agent._run import RunCall, run_agent
from kern.db.base import BaseDb
from kern.db.records import OnBusy
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.models.message import Message
from kern.run.active import refuse_reentry
from kern.run.agentic_state import agentic_state_tool
from kern.run.console import print_events
from kern.run.events import RunEvent, discard
from kern.run.hooks import Hook
from kern.run.output import RunOutput
from kern.run.streams import EventStream, event_stream
from kern.run.tool_calls import Confirm, ToolBox
from kern.session.codec import encode_state
from kern.session.patch import diff
from kern.session.schema import Session, SessionType
from kern.session.state import apply_updates
from kern.tools import Function, Toolkit, resolve_tools

ToolLike = Callable[..., Any] | Function | Toolkit


@dataclass(frozen=True, kw_only=True, eq=False)
class Agent:
    """A model with tools and instructions, whose runs persist in sessions.

    Without ``model``, the model is ``LiteLLM(id=$KERN_MODEL)`` when that variable is set, else
    ``OpenAIChat(id="gpt-4o")``. Without ``db``, sessions live in the process's in-memory store (shared
    by every definition built without one, so state persists across runs and Agent objects). Without
    ``session_id``, one is generated when the Agent is built, so consecutive runs continue one session.
    """

    model: Model | None = None
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
    pre_hooks: Sequence[Hook] = ()
    post_hooks: Sequence[Hook] = ()
    confirm_tool_call: Confirm | None = None
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    _parts: _Parts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_history_runs < 0:
            raise UsageError(f"num_history_runs cannot be negative, got {self.num_history_runs}")
        if self.tool_call_limit is not None and self.tool_call_limit < 0:
            raise UsageError(f"tool_call_limit cannot be negative, got {self.tool_call_limit}")
        functions = resolve_tools(
            [*self.tools, *([agentic_state_tool()] if self.enable_agentic_state else [])]
        )
        parts = _Parts(self, functions)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "id", parts.component_id)
        object.__setattr__(self, "session_id", parts.session_id)

    # --- what the run implementation reads -------------------------------------------------------------

    @property
    def component_id(self) -> str:
        """The id runs and sessions are stored under (``id``, else derived from ``name``, else "agent")."""
        return self._parts.component_id

    @property
    def store(self) -> SessionStore:
        """The store runs persist to: the ``db``'s, or the process's in-memory one."""
        return self._parts.store()

    @property
    def resolved_model(self) -> Model:
        """The model runs call."""
        return self._parts.model

    @property
    def toolbox(self) -> ToolBox:
        """The tools runs may call."""
        return self._parts.toolbox

    @property
    def hooks(self) -> tuple[tuple[Hook, ...], tuple[Hook, ...]]:
        """The pre-hooks and post-hooks, in order."""
        return self._parts.pre_hooks, self._parts.post_hooks

    @property
    def prompt(self) -> PromptParts:
        """What the system message is made of."""
        return self._parts.prompt

    # --- running ---------------------------------------------------------------------------------------

    @overload
    def arun(
        self,
        input: str | Message,
        *,
        stream: Literal[False] = False,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Coroutine[Any, Any, RunOutput]: ...

    @overload
    def arun(
        self,
        input: str | Message,
        *,
        stream: Literal[True],
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> EventStream: ...

    def arun(
        self,
        input: str | Message,
        *,
        stream: bool = False,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Coroutine[Any, Any, RunOutput] | EventStream:
        """Run once: ``await agent.arun(...)``, or ``async for event in agent.arun(..., stream=True)``.

        ``session_id``/``user_id`` default to the Agent's. ``session_state`` is merged into the stored state
        (or replaces it with ``overwrite_db_session_state``); ``dependencies`` and ``metadata`` are merged
        over the Agent's for this run only. With ``idempotency_key``, a call repeating the key of a
        completed run of the session returns that run's output instead of running again (a retried
        webhook); a stream of such a call yields just its RunCompleted.
        """
        call = self._call(
            input, stream, session_id, user_id, session_state, dependencies, metadata, idempotency_key
        )
        if stream:
            return event_stream(lambda emit: run_agent(self, call, emit))
        return run_agent(self, call, discard)

    @overload
    def run(
        self,
        input: str | Message,
        *,
        stream: Literal[False] = False,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunOutput: ...

    @overload
    def run(
        self,
        input: str | Message,
        *,
        stream: Literal[True],
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Iterator[RunEvent]: ...

    def run(
        self,
        input: str | Message,
        *,
        stream: bool = False,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunOutput | Iterator[RunEvent]:
        """The sync face of :meth:`arun`; works inside a running event loop too."""
        call = self._call(
            input, stream, session_id, user_id, session_state, dependencies, metadata, idempotency_key
        )
        if stream:
            return iterate_sync(lambda: event_stream(lambda emit: run_agent(self, call, emit)))
        return run_sync(lambda: run_agent(self, call, discard))

    async def aprint_response(
        self,
        input: str | Message,
        *,
        stream: bool = False,
        markdown: bool | None = None,
        show_tool_calls: bool = True,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunOutput | None:
        """Run once and print the exchange with rich (live, as it streams, with ``stream=True``)."""
        call = self._call(
            input, stream, session_id, user_id, session_state, dependencies, metadata, idempotency_key
        )
        return await print_events(
            event_stream(lambda emit: run_agent(self, call, emit)),
            input=call.input,
            markdown=self.markdown if markdown is None else markdown,
            show_tool_calls=show_tool_calls,
        )

    def print_response(
        self,
        input: str | Message,
        *,
        stream: bool = False,
        markdown: bool | None = None,
        show_tool_calls: bool = True,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunOutput | None:
        """The sync face of :meth:`aprint_response`."""
        return run_sync(
            lambda: self.aprint_response(
                input,
                stream=stream,
                markdown=markdown,
                show_tool_calls=show_tool_calls,
                session_id=session_id,
                user_id=user_id,
                session_state=session_state,
                dependencies=dependencies,
                metadata=metadata,
                idempotency_key=idempotency_key,
            )
        )

    # --- the session ------------------------------------------------------------------------------------

    async def aget_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The stored session (default: this Agent's), with its messages and runs; None if there is none."""
        return await self.store.get_session(
            session_id or self._session_id, SessionType.AGENT, self._user(user_id)
        )

    def get_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The sync face of :meth:`aget_session`."""
        return run_sync(lambda: self.aget_session(session_id, user_id))

    async def aget_session_state(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """The stored state of a session (default: this Agent's); ``{}`` if the session does not exist yet."""
        sid = session_id or self._session_id
        session = await self.store.get_session(sid, SessionType.AGENT, self._user(user_id))
        return session.session_state if session is not None else {}

    def get_session_state(self, session_id: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        """The sync face of :meth:`aget_session_state`."""
        return run_sync(lambda: self.aget_session_state(session_id, user_id))

    async def aupdate_session_state(
        self, updates: Mapping[str, Any], session_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """Apply ``updates`` to a session's stored state and return the new state.

        Dicts merge, other values replace, None deletes. It takes its turn on the session like a run
        does, so it never races one; a session that does not exist yet is created with the default state.
        """
        store = self.store
        sid = session_id or self._session_id
        refuse_reentry(sid)
        claim = await store.claim(
            sid,
            SessionType.AGENT,
            run_id=f"update-{uuid.uuid4()}",
            user_id=self._user(user_id),
            component_id=self.id,
            initial_state=self.session_state or {},
            on_busy=self.on_busy,
            busy_timeout=self.busy_timeout,
            lease_seconds=self.lease_seconds,
        )
        try:
            state = claim.session.session_state
            apply_updates(state, updates)
            patch = diff(claim.state_snapshot, encode_state(state))
            with anyio.CancelScope(shield=True):
                await store.commit(claim, state_patch=patch, release=True)
            return state
        except BaseException:
            with anyio.CancelScope(shield=True):
                await store.release(claim)
            raise

    def update_session_state(
        self, updates: Mapping[str, Any], session_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """The sync face of :meth:`aupdate_session_state`."""
        return run_sync(lambda: self.aupdate_session_state(updates, session_id, user_id))

    async def aget_chat_history(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> list[Message]:
        """The user/assistant/tool messages of a session's completed runs, oldest first."""
        return await self.store.history(session_id or self._session_id, self._user(user_id))

    def get_chat_history(self, session_id: str | None = None, user_id: str | None = None) -> list[Message]:
        """The sync face of :meth:`aget_chat_history`."""
        return run_sync(lambda: self.aget_chat_history(session_id, user_id))

    async def adelete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """Delete a session with its runs and messages; False if it did not exist."""
        return await self.store.delete_session(session_id or self._session_id, self._user(user_id))

    def delete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """The sync face of :meth:`adelete_session`."""
        return run_sync(lambda: self.adelete_session(session_id, user_id))

    # --- helpers ----------------------------------------------------------------------------------------

    @property
    def _session_id(self) -> str:
        return self._parts.session_id

    def _user(self, user_id: str | None) -> str | None:
        return user_id if user_id is not None else self.user_id

    def _call(
        self,
        input: str | Message,
        stream: bool,
        session_id: str | None,
        user_id: str | None,
        session_state: Mapping[str, Any] | None,
        dependencies: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        idempotency_key: str | None = None,
    ) -> RunCall:
        text = (input.content or "") if isinstance(input, Message) else input
        return RunCall(
            input=text,
            session_id=session_id or self._session_id,
            user_id=user_id if user_id is not None else self.user_id,
            session_state=session_state,
            dependencies={**(self.dependencies or {}), **(dependencies or {})},
            metadata={**(self.metadata or {}), **(metadata or {})},
            stream=stream,
            idempotency_key=idempotency_key,
        )


class _Parts:
    """What an Agent derives from its definition once: model, tools, prompt, and its store."""

    def __init__(self, agent: Agent, functions: Sequence[Function]) -> None:
        self.component_id = agent.id or _slug(agent.name) or "agent"
        self.session_id = agent.session_id or str(uuid.uuid4())
        self.pre_hooks = tuple(agent.pre_hooks)
        self.post_hooks = tuple(agent.post_hooks)
        self.model = agent.model or _default_model()
        self.toolbox = ToolBox(
            functions={f.name: f for f in functions},
            source=agent.id or "agent",
            confirm=agent.confirm_tool_call,
        )
        instructions = agent.instructions
        self.prompt = PromptParts(
            description=agent.description,
            instructions=(instructions,) if isinstance(instructions, str) else tuple(instructions or ()),
            tool_instructions=tuple(
                t.instructions for t in agent.tools if isinstance(t, Toolkit) and t.instructions
            ),
            markdown=agent.markdown,
            output_schema=agent.output_schema,
            add_session_state=agent.add_session_state_to_context,
        )
        self._db = agent.db

    def store(self) -> SessionStore:
        return self._db.store if self._db is not None else process_store()


_process_store: list[SessionStore] = []
_process_store_lock = threading.Lock()


def process_store() -> SessionStore:
    """The in-process store of every definition built without ``db``: state persists for the process."""
    with _process_store_lock:
        if not _process_store:
            from kern.db.in_memory import InMemoryDb

            _process_store.append(InMemoryDb().store)
        return _process_store[0]


def _default_model() -> Model:
    if model_id := os.environ.get("KERN_MODEL"):
        from kern.models.litellm import LiteLLM

        return LiteLLM(id=model_id)
    from kern.models.openai import OpenAIChat

    return OpenAIChat(id="gpt-4o")


def _slug(name: str | None) -> str | None:
    if not name:
        return None
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or None
