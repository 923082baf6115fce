"""The faces every runnable shares: ``arun``/``run``, ``aprint_response``/``print_response``, and the
session API (``get_session_state``, ``update_session_state``, ``get_session``, ``get_chat_history``,
``delete_session`` and their ``a`` twins).

An Agent and a Team are two runnables over one floor: each says how to run once (``_execute``), what
session type it keeps, its id and its store; everything here is written once for both. The ``a``
methods are the implementation; the plain ones drive them from sync code (kern._private.sync).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict, Unpack, overload

import anyio
from anyio.abc import TaskGroup

from kern._private.sync import iterate_sync, run_sync
from kern.db.records import OnBusy
from kern.db.store import SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.models.message import Message
from kern.run.active import memory_user, refuse_reentry
from kern.run.console import print_events
from kern.run.events import Emit, RunEvent, discard
from kern.run.output import RunOutput
from kern.run.streams import EventStream, event_stream
from kern.session.codec import encode_state
from kern.session.patch import diff
from kern.session.schema import Session, SessionSummary, SessionType, UserMemory
from kern.session.state import apply_updates


@dataclass(frozen=True, slots=True)
class RunCall:
    """What one call of ``arun``/``run`` asked for, before the session is claimed."""

    input: str
    session_id: str
    user_id: str | None
    session_state: Mapping[str, Any] | None
    dependencies: Mapping[str, Any]
    metadata: Mapping[str, Any]
    stream: bool
    idempotency_key: str | None = None
    background: TaskGroup | None = None


class RunOptions(TypedDict, total=False):
    """The per-run options of ``arun``/``run``/``print_response`` (all optional)."""

    session_id: str | None
    user_id: str | None
    session_state: Mapping[str, Any] | None
    dependencies: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    idempotency_key: str | None
    background: TaskGroup | None


class Runnable(ABC):
    """The shared faces of a definition whose runs persist in sessions of ``session_type``."""

    __slots__ = ()  # definitions keep their fields in slots: many Agents, little memory each

    session_type: ClassVar[SessionType]
    user_id: str | None
    session_state: Mapping[str, Any] | None
    dependencies: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    markdown: bool
    on_busy: OnBusy
    busy_timeout: float
    lease_seconds: float

    @property
    @abstractmethod
    def component_id(self) -> str:
        """The id runs and sessions are stored under."""

    @property
    @abstractmethod
    def default_session_id(self) -> str:
        """The session runs use when the call names none (generated when the definition was built)."""

    @property
    @abstractmethod
    def store(self) -> SessionStore:
        """The store runs persist to."""

    @abstractmethod
    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        """Run once on the call's session and return the committed output."""

    # --- running ---------------------------------------------------------------------------------------

    @overload
    def arun(
        self, input: str | Message, *, stream: Literal[False] = False, **options: Unpack[RunOptions]
    ) -> Coroutine[Any, Any, RunOutput]: ...

    @overload
    def arun(
        self, input: str | Message, *, stream: Literal[True], **options: Unpack[RunOptions]
    ) -> EventStream: ...

    def arun(
        self, input: str | Message, *, stream: bool = False, **options: Unpack[RunOptions]
    ) -> Coroutine[Any, Any, RunOutput] | EventStream:
        """Run once: ``await agent.arun(...)``, or ``async for event in agent.arun(..., stream=True)``.

        The options (:class:`RunOptions`): ``session_id``/``user_id`` default to the definition's.
        ``session_state`` is merged into the stored state (or replaces it with
        ``overwrite_db_session_state``); ``dependencies`` and ``metadata`` are merged over the
        definition's for this run only. With ``idempotency_key``, a call repeating the key of a completed
        run of the session returns that run's output instead of running again (a retried webhook); a
        stream of such a call yields just its RunCompleted. With ``background`` (an anyio task group),
        the session summary and memory updates that follow a run run in that task group and ``arun``
        returns first (``await output.post_run.wait()``). Leave a stream early with ``aclose()``; a
        stream simply dropped cancels its run when it is collected.
        """
        call = self._call(input, stream, options)
        if stream:
            return event_stream(lambda emit: self._execute(call, emit))
        return self._execute(call, discard)

    @overload
    def run(
        self, input: str | Message, *, stream: Literal[False] = False, **options: Unpack[RunOptions]
    ) -> RunOutput: ...

    @overload
    def run(
        self, input: str | Message, *, stream: Literal[True], **options: Unpack[RunOptions]
    ) -> Iterator[RunEvent]: ...

    def run(
        self, input: str | Message, *, stream: bool = False, **options: Unpack[RunOptions]
    ) -> RunOutput | Iterator[RunEvent]:
        """The sync face of :meth:`arun`; works inside a running event loop too."""
        _no_background(options)
        call = self._call(input, stream, options)
        if stream:
            return iterate_sync(lambda: event_stream(lambda emit: self._execute(call, emit)))
        return run_sync(lambda: self._execute(call, discard))

    async def aprint_response(
        self,
        input: str | Message,
        *,
        stream: bool = False,
        markdown: bool | None = None,
        show_tool_calls: bool = True,
        **options: Unpack[RunOptions],
    ) -> RunOutput | None:
        """Run once and print the exchange with rich (live, as it streams, with ``stream=True``)."""
        call = self._call(input, stream, options)
        return await print_events(
            event_stream(lambda emit: self._execute(call, emit)),
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
        **options: Unpack[RunOptions],
    ) -> RunOutput | None:
        """The sync face of :meth:`aprint_response`."""
        _no_background(options)
        return run_sync(
            lambda: self.aprint_response(
                input, stream=stream, markdown=markdown, show_tool_calls=show_tool_calls, **options
            )
        )

    # --- the session ------------------------------------------------------------------------------------

    async def aget_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The stored session (default: this Agent's), with its messages and runs; None if there is none."""
        return await self.store.get_session(
            session_id or self.default_session_id, self.session_type, self._user(user_id)
        )

    def get_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The sync face of :meth:`aget_session`."""
        return run_sync(lambda: self.aget_session(session_id, user_id))

    async def aget_session_state(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """The stored state of a session (default: this Agent's); ``{}`` if the session does not exist yet."""
        sid = session_id or self.default_session_id
        session = await self.store.get_session(sid, self.session_type, self._user(user_id))
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
        sid = session_id or self.default_session_id
        refuse_reentry(sid)
        claim = await store.claim(
            sid,
            self.session_type,
            run_id=f"update-{uuid.uuid4()}",
            user_id=self._user(user_id),
            component_id=self.component_id,
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
        return await self.store.history(session_id or self.default_session_id, self._user(user_id))

    def get_chat_history(self, session_id: str | None = None, user_id: str | None = None) -> list[Message]:
        """The sync face of :meth:`aget_chat_history`."""
        return run_sync(lambda: self.aget_chat_history(session_id, user_id))

    async def aget_session_summary(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> SessionSummary | None:
        """The session's summary (default: this definition's session); None if it has none yet."""
        return await self.store.get_session_summary(
            session_id or self.default_session_id, self._user(user_id)
        )

    def get_session_summary(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> SessionSummary | None:
        """The sync face of :meth:`aget_session_summary`."""
        return run_sync(lambda: self.aget_session_summary(session_id, user_id))

    async def aget_user_memories(self, user_id: str | None = None) -> list[UserMemory]:
        """The memories kept about a user (default: this definition's user), oldest first."""
        return await self.store.get_user_memories(memory_user(self._user(user_id)))

    def get_user_memories(self, user_id: str | None = None) -> list[UserMemory]:
        """The sync face of :meth:`aget_user_memories`."""
        return run_sync(lambda: self.aget_user_memories(user_id))

    async def adelete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """Delete a session with its runs and messages; False if it did not exist."""
        return await self.store.delete_session(session_id or self.default_session_id, self._user(user_id))

    def delete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """The sync face of :meth:`adelete_session`."""
        return run_sync(lambda: self.adelete_session(session_id, user_id))

    # --- helpers ----------------------------------------------------------------------------------------

    def _user(self, user_id: str | None) -> str | None:
        return user_id if user_id is not None else self.user_id

    def _call(self, input: str | Message, stream: bool, options: RunOptions) -> RunCall:
        text = (input.content or "") if isinstance(input, Message) else input
        user_id = options.get("user_id")
        return RunCall(
            input=text,
            session_id=options.get("session_id") or self.default_session_id,
            user_id=user_id if user_id is not None else self.user_id,
            session_state=options.get("session_state"),
            dependencies={**(self.dependencies or {}), **(options.get("dependencies") or {})},
            metadata={**(self.metadata or {}), **(options.get("metadata") or {})},
            stream=stream,
            idempotency_key=options.get("idempotency_key"),
            background=options.get("background"),
        )


def _no_background(options: RunOptions) -> None:
    if options.get("background") is not None:
        raise UsageError(
            "background= takes a task group of the caller's event loop, which a sync run() does not "
            "have; use await arun(..., background=task_group)"
        )


_process_store: list[SessionStore] = []
_process_store_lock = threading.Lock()


def process_store() -> SessionStore:
    """The in-process store of every definition built without ``db``: state persists for the process."""
    with _process_store_lock:
        if not _process_store:
            from kern.db.in_memory import InMemoryDb

            _process_store.append(InMemoryDb().store)
        return _process_store[0]


def resolve_model(model: Model | str | None) -> Model:
    """The model a definition's runs call.

    A string is a litellm model id (``"openai/gpt-4o-mini"``, ``"ollama/llama3"``). Without a model:
    LiteLLM($KERN_MODEL), else OpenAIChat("gpt-4o").
    """
    if isinstance(model, Model):
        return model
    if model is not None and not isinstance(model, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"model= takes a Model or a litellm model id string, got {type(model).__name__}")
    if model_id := model or os.environ.get("KERN_MODEL"):
        from kern.models.litellm import LiteLLM

        return LiteLLM(id=model_id)
    from kern.models.openai import OpenAIChat

    return OpenAIChat(id="gpt-4o")


def slug(name: str | None) -> str | None:
    """An id made from a name ("My Bot" -> "my-bot"), or None."""
    if not name:
        return None
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or None
