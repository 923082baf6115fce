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
from typing import Any, ClassVar, Literal, NoReturn, TypedDict, Unpack, overload

import anyio
from anyio.abc import TaskGroup

from kern._private.sync import iterate_sync, run_sync
from kern._private.validate import (
    ID_LIMIT,
    check_id,
    check_mapping,
    check_optional_id,
    check_seconds,
    given,
    unstorable_char,
)
from kern.db.records import OnBusy
from kern.db.store import SessionStore
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.models.message import Message
from kern.run.active import refuse_reentry
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
    """What one call of ``arun``/``run`` asked for, before the session is claimed (already checked).

    ``timeout``: seconds after which the run is cancelled and recorded ``cancelled`` (None: no limit).
    """

    input: str
    session_id: str
    user_id: str | None
    session_state: Mapping[str, Any] | None
    dependencies: Mapping[str, Any]
    metadata: Mapping[str, Any]
    stream: bool
    idempotency_key: str | None = None
    background: TaskGroup | None = None
    timeout: float | None = None


class RunOptions(TypedDict, total=False):
    """The per-run options of ``arun``/``run``/``print_response`` (all optional; any other raises
    TypeError, as a function's unexpected keyword argument does)."""

    session_id: str | None
    user_id: str | None
    session_state: Mapping[str, Any] | None
    dependencies: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    idempotency_key: str | None
    background: TaskGroup | None
    timeout: float | None


_OPTIONS = RunOptions.__optional_keys__ | RunOptions.__required_keys__


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
        returns first (``await output.post_run.wait()``). With ``timeout`` (seconds), the run is
        cancelled and recorded cancelled after that long. Leave a stream early with ``aclose()``; a
        stream simply dropped cancels its run when it is collected.

        Every option is checked before anything is claimed or written: ids (``session_id``,
        ``user_id``, ``idempotency_key``) must be non-empty strs of at most 255 characters without NUL
        or lone surrogates, ``session_state``/``dependencies``/``metadata`` Mappings, the input a str or
        a Message; a bad one raises UsageError naming it, an unknown option TypeError.
        """
        call = self._call(input, stream, options, "arun")
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
        call = self._call(input, stream, options, "run")
        _no_background(call)
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
        call = self._call(input, stream, options, "aprint_response")
        return await self._print(call, markdown=markdown, show_tool_calls=show_tool_calls)

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
        call = self._call(input, stream, options, "print_response")
        _no_background(call)
        return run_sync(lambda: self._print(call, markdown=markdown, show_tool_calls=show_tool_calls))

    async def _print(
        self, call: RunCall, *, markdown: bool | None, show_tool_calls: bool
    ) -> RunOutput | None:
        return await print_events(
            event_stream(lambda emit: self._execute(call, emit)),
            input=call.input,
            markdown=self.markdown if markdown is None else markdown,
            show_tool_calls=show_tool_calls,
        )

    # --- the session ------------------------------------------------------------------------------------

    async def aget_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The stored session (default: this Agent's), with its messages and runs; None if there is none."""
        return await self.store.get_session(self._session(session_id), self.session_type, self._user(user_id))

    def get_session(self, session_id: str | None = None, user_id: str | None = None) -> Session | None:
        """The sync face of :meth:`aget_session`."""
        return run_sync(lambda: self.aget_session(session_id, user_id))

    async def aget_session_state(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        """The stored state of a session (default: this Agent's); ``{}`` if the session does not exist yet."""
        sid = self._session(session_id)
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
        if not isinstance(updates, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(
                f"update_session_state takes a dict (any Mapping) of updates, got {given(updates)}"
            )
        store = self.store
        sid = self._session(session_id)
        user = self._user(user_id)
        refuse_reentry(sid)
        claim = await store.claim(
            sid,
            self.session_type,
            run_id=f"update-{uuid.uuid4()}",
            user_id=user,
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
        return await self.store.history(self._session(session_id), self._user(user_id))

    def get_chat_history(self, session_id: str | None = None, user_id: str | None = None) -> list[Message]:
        """The sync face of :meth:`aget_chat_history`."""
        return run_sync(lambda: self.aget_chat_history(session_id, user_id))

    async def aget_session_summary(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> SessionSummary | None:
        """The session's summary (default: this definition's session); None if it has none yet."""
        return await self.store.get_session_summary(self._session(session_id), self._user(user_id))

    def get_session_summary(
        self, session_id: str | None = None, user_id: str | None = None
    ) -> SessionSummary | None:
        """The sync face of :meth:`aget_session_summary`."""
        return run_sync(lambda: self.aget_session_summary(session_id, user_id))

    async def aget_user_memories(self, user_id: str | None = None) -> list[UserMemory]:
        """The memories kept about a user (default: this definition's user), oldest first.

        The owner rule of a run: without a user id here or on the definition, the anonymous owner's
        memories (those its runs without a user learnt), never every user's.
        """
        return await self.store.memories_of(self._user(user_id))

    def get_user_memories(self, user_id: str | None = None) -> list[UserMemory]:
        """The sync face of :meth:`aget_user_memories`."""
        return run_sync(lambda: self.aget_user_memories(user_id))

    async def adelete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """Delete a session with its runs and messages; False if it did not exist."""
        return await self.store.delete_session(self._session(session_id), self._user(user_id))

    def delete_session(self, session_id: str | None = None, user_id: str | None = None) -> bool:
        """The sync face of :meth:`adelete_session`."""
        return run_sync(lambda: self.adelete_session(session_id, user_id))

    # --- helpers ----------------------------------------------------------------------------------------

    def _user(self, user_id: str | None) -> str | None:
        """The user a session call names (checked), else the definition's."""
        return self.user_id if user_id is None else check_id(user_id, "user_id")

    def _session(self, session_id: str | None) -> str:
        """The session a session call names (checked), else the definition's."""
        return self.default_session_id if session_id is None else check_id(session_id, "session_id")

    def _call(self, input: str | Message, stream: bool, options: RunOptions, face: str) -> RunCall:
        """The checked call: UsageError for a bad value, TypeError for an unknown option, before anything
        is claimed or written. On every run's path, so a few type checks and one scan per string."""
        if not _OPTIONS.issuperset(options):
            _unknown_option(face, options)
        where = f"{face}()"
        session_id = options.get("session_id")
        user_id = options.get("user_id")
        key = options.get("idempotency_key")
        dependencies = check_mapping(options.get("dependencies"), "dependencies", where=where)
        metadata = check_mapping(options.get("metadata"), "metadata", where=where)
        background = options.get("background")
        if background is not None and not isinstance(background, TaskGroup):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"{where}: background must be an anyio task group, got {given(background)}")
        timeout = options.get("timeout")
        check_seconds(timeout, "timeout", optional=True, where=where)
        return RunCall(
            input=_input_text(input, where),
            session_id=self.default_session_id
            if session_id is None
            else check_id(session_id, "session_id", where=where),
            user_id=self.user_id if user_id is None else check_id(user_id, "user_id", where=where),
            session_state=check_mapping(options.get("session_state"), "session_state", where=where),
            dependencies={**(self.dependencies or {}), **(dependencies or {})},
            metadata={**(self.metadata or {}), **(metadata or {})},
            stream=stream,
            idempotency_key=None if key is None else check_id(key, "idempotency_key", where=where),
            background=background,
            timeout=timeout,
        )


def check_definition(runnable: Runnable, *, id: object, name: object, session_id: object) -> None:
    """UsageError at construction for a bad parameter every runnable has (Agent, Team, Workflow):
    ``id``, ``name``, ``session_id``, ``user_id``, the Mappings, ``on_busy``, ``busy_timeout``,
    ``lease_seconds``. Called before anything is derived from them."""
    where = type(runnable).__name__
    check_optional_id(id, "id", where=where)
    if name is not None and not isinstance(name, str):
        raise UsageError(f"{where}: name must be a str or None, got {given(name)}")
    derived = slug(name) if id is None else None
    if derived is not None and len(derived) > ID_LIMIT:
        raise UsageError(
            f"{where}: the id made from name= is {len(derived)} characters long and the stores hold ids of "
            f"at most {ID_LIMIT}; give a shorter name or an id="
        )
    check_optional_id(session_id, "session_id", where=where)
    check_optional_id(runnable.user_id, "user_id", where=where)
    check_mapping(runnable.session_state, "session_state", where=where)
    check_mapping(runnable.dependencies, "dependencies", where=where)
    check_mapping(runnable.metadata, "metadata", where=where)
    if runnable.on_busy not in ("wait", "reject"):
        raise UsageError(f"{where}: on_busy must be 'wait' or 'reject', got {given(runnable.on_busy)}")
    check_seconds(runnable.busy_timeout, "busy_timeout", zero=True, infinite=True, where=where)
    check_seconds(runnable.lease_seconds, "lease_seconds", where=where)


def _input_text(input: object, where: str) -> str:
    """The text of a run's input: a str, or a Message's content."""
    if type(input) is str:
        text = input
    elif isinstance(input, Message):
        text = input.content or ""
    elif isinstance(input, str):
        text = str.__str__(input)
    else:
        raise UsageError(f"{where}: the input must be a str or a kern Message, got {given(input)}")
    if (bad := unstorable_char(text)) is not None:
        raise UsageError(f"{where}: the input contains {bad}; remove it (or encode the data as text)")
    return text


def _unknown_option(face: str, options: Mapping[str, object]) -> NoReturn:
    import difflib

    name = next(name for name in options if name not in _OPTIONS)
    close = difflib.get_close_matches(name, sorted(_OPTIONS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (the options are {', '.join(sorted(_OPTIONS))})"
    raise TypeError(f"{face}() got an unexpected keyword argument {name!r}{hint}")


def _no_background(call: RunCall) -> None:
    if call.background is not None:
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
