"""The life of one run on its session: claim, live state, checkpoints, the final commit, release.

Agents, Teams and Workflows all run through :func:`execute`. It claims the session (creating it with the
definition's default state), starts the run's state from the precedence rules, keeps the lease renewed
while the run lives, and records how the run ended (completed, error, cancelled) in a commit that a
cancellation cannot interrupt, before giving the session up. Nothing here holds a database
transaction across a model call: each checkpoint is one short commit of what changed since the last.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import anyio

from kern._private.log import get_logger
from kern.db.records import Claim, OnBusy, Replay, RunWrite
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import (
    ClaimLostError,
    KernError,
    RunTimeoutError,
    StateSerializationError,
    StorageError,
    UsageError,
)
from kern.models.message import Message
from kern.run.output import RunMetrics
from kern.session.codec import JsonValue, decode, encode_state
from kern.session.context import RunContext, RunMemory
from kern.session.patch import PatchOp, apply_patch, diff
from kern.session.schema import RunRecord, SessionType, StepRecord
from kern.session.state import starting_state
from kern.session.status import RunStatus

T = TypeVar("T")

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Who runs on which session, with what state: everything :func:`execute` needs to start a run."""

    store: SessionStore
    session_type: SessionType
    component_id: str
    session_id: str
    user_id: str | None
    run_id: str
    input: Any = None
    default_state: Mapping[str, Any] = field(default_factory=dict[str, Any])
    passed_state: Mapping[str, Any] | None = None
    overwrite_state: bool = False
    dependencies: Mapping[str, Any] = field(default_factory=dict[str, Any])
    metadata: Mapping[str, Any] = field(default_factory=dict[str, Any])
    messages: tuple[Message, ...] = ()
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    parent_run_id: str | None = None
    idempotency_key: str | None = None
    resuming: bool = False
    """The run row and its opening ``messages`` are stored already (a workflow run resumed)."""
    state_at_checkpoints: bool = True
    """Whether member runs' checkpoints commit the state too; a workflow commits it only with its steps."""
    with_summary: bool = False
    """The run shows the session's summary (and the history after it)."""
    memory_limit: int | None = None
    """The run uses the user's memories, this many of the newest (None: no memories)."""
    timeout: float | None = None
    """Seconds the run may take, waiting for its session included; then it is stopped and recorded
    ``cancelled`` (RunTimeoutError). None: no limit."""

    def record(
        self,
        status: RunStatus,
        started_at: float,
        *,
        output: Any = None,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """The run's row as it stands."""
        return RunRecord(
            run_id=self.run_id,
            session_id=self.session_id,
            status=status,
            user_id=self.user_id,
            component_id=self.component_id,
            parent_run_id=self.parent_run_id,
            input=self.input,
            output=output,
            metrics=dict(metrics or {}),
            error=error,
            idempotency_key=self.idempotency_key,
            created_at=started_at,
        )


class ActiveRun:
    """A run holding its session: the live state, the messages it added, and what is committed."""

    def __init__(self, spec: RunSpec, claim: Claim, started_at: float) -> None:
        state = starting_state(claim.session.session_state, spec.passed_state, overwrite=spec.overwrite_state)
        self.spec = spec
        self.claim = claim
        self.context = RunContext(
            run_id=spec.run_id,
            session_id=spec.session_id,
            user_id=spec.user_id,
            session_state=state,
            dependencies=dict(spec.dependencies),
            metadata=dict(spec.metadata),
            session_summary=claim.session.summary if spec.with_summary else None,
            memory=_memory(spec),
        )
        self.messages: list[Message] = list(spec.messages)
        self.started_at = started_at
        self.released = False
        self._stored: dict[str, JsonValue] = claim.state_snapshot
        self._good: dict[str, JsonValue] = encode_state(state)
        self._flushed = len(spec.messages)
        self._commit_lock = anyio.Lock()
        self.metrics = RunMetrics()
        """What the run's model and tool calls consumed so far (the model loop keeps it up to date);
        a failed run's row stores it."""

    def metrics_so_far(self) -> dict[str, Any]:
        """The stored form of :attr:`metrics`, with the time the run has taken until now."""
        return _metrics_json(self.metrics, self.started_at)

    def add_message(self, message: Message) -> None:
        """Add a message to the run; the next checkpoint stores it."""
        self.messages.append(message)

    def capture_state(self) -> None:
        """Check the live state can be stored and remember it as the last good state.

        A value the codec cannot store raises StateSerializationError naming its path, after the live
        state is put back (in place) as it was at the last capture.
        """
        try:
            good = encode_state(self.context.session_state)
        except StateSerializationError:
            self.restore_state()
            raise
        if (pending := _branch_writes.get()) is not None:  # a parallel branch keeps its own changes
            pending.extend(diff(self._good, good, appends=True))
        self._good = good

    async def undo_uncommitted_state(self) -> None:
        """Put the live state back to what the last commit stored, when only one step is running.

        A workflow calls it when an agent or team step fails, so that a retry or a skip starts from
        the committed state. Inside a parallel branch it does nothing: siblings' uncommitted writes
        share the live state, and only the branch's own could be told apart.
        """
        if _branch_writes.get() is not None:
            return
        async with self.context.state_lock:
            self._good = self._stored
            self.restore_state()

    @contextlib.contextmanager
    def branch_writes(self) -> Generator[None]:
        """Inside: the state changes made in this context (and its child tasks) are this branch's own,
        and a commit with state commits just them, not its siblings' changes made so far.

        A workflow's parallel branches run inside this, so that a branch's commit never carries the
        half-done writes of a sibling still in flight (which would run again on resume).
        """
        token = _branch_writes.set([])
        try:
            yield
        finally:
            _branch_writes.reset(token)

    def restore_state(self) -> None:
        """Put the live state back, in place, as it was at the last capture."""
        state = self.context.session_state
        state.clear()
        state.update(self.state_snapshot())

    def state_snapshot(self) -> dict[str, Any]:
        """A fresh copy of the last good state."""
        return {key: decode(value) for key, value in self._good.items()}

    async def checkpoint(
        self,
        status: RunStatus = RunStatus.running,
        *,
        output: Any = None,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        steps: Sequence[StepRecord] = (),
        with_state: bool = True,
    ) -> None:
        """Commit the state changes, the run row and the new messages since the last checkpoint.

        A terminal ``status`` is the run's last commit, and gives the session up in the same transaction.
        ``steps`` are workflow journal rows to write with it; ``with_state`` is :meth:`commit_writes`'.
        """
        record = self.spec.record(status, self.started_at, output=output, metrics=metrics, error=error)
        write = RunWrite(record, self.messages[self._flushed :], first_seq=self._flushed, mode="update")
        flushed = len(self.messages)
        await self.commit_writes(
            [write], release=status.is_terminal, steps=lambda _: steps, with_state=with_state
        )
        self._flushed = flushed

    async def commit_writes(
        self,
        writes: Sequence[RunWrite] = (),
        *,
        release: bool = False,
        steps: Callable[[Sequence[PatchOp]], Sequence[StepRecord]] | None = None,
        with_state: bool = True,
    ) -> None:
        """Commit the state changes since the last commit with ``writes`` (this run's or a member's).

        ``steps`` makes the workflow journal rows to write in the same transaction, given the state
        changes committed with them. Without ``with_state`` the state stays as it is in the store (its
        changes go with a later commit). Commits of one run never interleave: members finishing in
        parallel commit one after the other, each diff taken against what the previous one stored.
        """
        async with self._commit_lock:
            committing, own = self._stored, None
            branch = _branch_writes.get() if with_state else None
            if with_state:
                async with self.context.state_lock:  # members may be changing the state right now
                    self.capture_state()
                    committing = self._good  # later captures (tools running meanwhile) go with later commits
                    if branch is not None:
                        own = list(branch)
                        committing = apply_patch(self._stored, own)
            patch = own if own is not None else diff(self._stored, committing)
            journal = steps(patch) if steps is not None else ()
            await self.spec.store.commit(
                self.claim, state_patch=patch, writes=writes, release=release, steps=journal
            )
            if branch is not None:
                del branch[: len(patch)]  # committed; captures made during the commit stay pending
            self._stored = committing
            self.released = release

    def child(
        self, *, component_id: str, input: str, parent_run_id: str, memory_limit: int | None = None
    ) -> ChildRun:
        """A member run inside this run's claim: its own row and messages, this run's live state.

        ``memory_limit``: the member uses the user's memories (its own setting, not the parent's).
        """
        return ChildRun(
            self,
            component_id=component_id,
            input=input,
            parent_run_id=parent_run_id,
            memory_limit=memory_limit,
        )

    async def record_failure(self, error: BaseException) -> None:
        """Commit how ``error`` ended the run (:func:`ending`), with the last good state; never
        interrupted by cancellation.

        A workflow run (``state_at_checkpoints`` off) keeps the state its completed steps committed: the
        step that failed runs again on resume, so what it changed is not kept. If that commit fails
        too, the failure is logged and noted on ``error`` (which the caller raises): the run's own
        error is what the caller must see.
        """
        if self.released:
            return  # the run's final commit went through: nothing is left to record
        status, text = ending(error)
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(StateSerializationError):
                self.capture_state()  # on failure the state is put back to the last good one, committed here
            try:
                await self.checkpoint(
                    status,
                    error=text,
                    metrics=self.metrics_so_far(),
                    with_state=self.spec.state_at_checkpoints,
                )
            except KernError as commit_error:
                log.error("run.record_failed", status=status.value, error=str(commit_error))
                error.add_note(f"Kern could not record the run as {status.value}: {commit_error}")


class ChildRun:
    """A member's run inside the claim of the run it belongs to (a team's, at any depth).

    It has its own run row (``parent_run_id`` set, the member as component, the task as input) and its
    own messages, and shares the root run's live state, state lock and commits.
    """

    def __init__(
        self,
        root: ActiveRun,
        *,
        component_id: str,
        input: str,
        parent_run_id: str,
        memory_limit: int | None = None,
    ) -> None:
        self.root = root
        self.spec = replace(
            root.spec,
            run_id=str(uuid.uuid4()),
            component_id=component_id,
            input=input,
            parent_run_id=parent_run_id,
            idempotency_key=None,
            messages=(),
            memory_limit=memory_limit,
        )
        shared = root.context
        self.context = RunContext(
            run_id=self.spec.run_id,
            session_id=shared.session_id,
            user_id=shared.user_id,
            session_state=shared.session_state,
            dependencies=shared.dependencies,
            metadata=shared.metadata,
            state_lock=shared.state_lock,
            memory=_memory(self.spec),
        )
        self.messages: list[Message] = [Message(role="user", content=input)]
        self.started_at = time.time()
        self._flushed = 0
        self._written = False
        self.metrics = RunMetrics()
        """What the member run's model and tool calls consumed so far (see ActiveRun.metrics)."""

    def metrics_so_far(self) -> dict[str, Any]:
        """The stored form of :attr:`metrics`, with the time the run has taken until now."""
        return _metrics_json(self.metrics, self.started_at)

    def add_message(self, message: Message) -> None:
        """Add a message to the member run; the next checkpoint stores it."""
        self.messages.append(message)

    def capture_state(self) -> None:
        """The shared state's check (see ActiveRun.capture_state)."""
        self.root.capture_state()

    def restore_state(self) -> None:
        """Put the shared state back, in place, as it was at the last capture."""
        self.root.restore_state()

    def state_snapshot(self) -> dict[str, Any]:
        """A fresh copy of the shared state's last good version."""
        return self.root.state_snapshot()

    def child(
        self, *, component_id: str, input: str, parent_run_id: str, memory_limit: int | None = None
    ) -> ChildRun:
        """A member run of this member (a nested team's), in the same root claim."""
        return ChildRun(
            self.root,
            component_id=component_id,
            input=input,
            parent_run_id=parent_run_id,
            memory_limit=memory_limit,
        )

    async def checkpoint(
        self,
        status: RunStatus = RunStatus.running,
        *,
        output: Any = None,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        steps: Sequence[StepRecord] = (),
    ) -> None:
        """Commit the member run's row, its new messages and the shared state's changes (and ``steps``,
        workflow journal rows, as :meth:`ActiveRun.checkpoint` does)."""
        record = self.spec.record(status, self.started_at, output=output, metrics=metrics, error=error)
        mode = "update" if self._written else "insert"
        write = RunWrite(record, self.messages[self._flushed :], first_seq=self._flushed, mode=mode)
        flushed = len(self.messages)
        await self.root.commit_writes(
            [write], steps=lambda _: steps, with_state=self.root.spec.state_at_checkpoints
        )
        self._written, self._flushed = True, flushed


def _metrics_json(metrics: RunMetrics, started_at: float) -> dict[str, Any]:
    return replace(metrics, duration=time.time() - started_at).to_json()


def _memory(spec: RunSpec) -> RunMemory | None:
    if spec.memory_limit is None:
        return None
    return RunMemory(
        store=spec.store,
        user_id=spec.user_id,  # exactly: None is the anonymous (NULL) owner, never every user
        component_id=spec.component_id,
        limit=spec.memory_limit,
    )


async def _release(run: ActiveRun, failure: BaseException | None) -> None:
    """Give up the claim of a run whose final commit did not go through (it failed, and so did the
    commit recording the failure; or the body ended without one).

    The release marks the run's rows still ``running`` as ``failure`` ended them, in the releasing
    transaction. When the release fails too, ``failure`` stays the error the caller sees: the
    release's error is logged and noted on it (the lease then expires, and the next claim of the
    session marks the run abandoned). Without a failure, the release's own error propagates.
    """
    status, text = ending(failure) if failure is not None else (RunStatus.error, None)
    with anyio.CancelScope(shield=True):
        try:
            await run.spec.store.release(run.claim, status=status, error=text)
        except KernError as release_error:
            if failure is None:
                raise
            log.error("run.release_failed", run_id=run.claim.run_id, error=str(release_error))
            failure.add_note(f"Kern could not release the session either: {release_error}")


def ending(error: BaseException) -> tuple[RunStatus, str]:
    """How a run that ``error`` ended is recorded: cancelled (a cancellation, a run timeout) or error."""
    if isinstance(error, RunTimeoutError):
        return RunStatus.cancelled, f"cancelled: {error}"
    if isinstance(error, anyio.get_cancelled_exc_class()):
        return RunStatus.cancelled, "cancelled"
    return RunStatus.error, f"{type(error).__name__}: {error}"


RunHandle = ActiveRun | ChildRun
"""A run the model loop can drive: a top-level run holding its claim, or a member run inside one."""


async def execute(
    spec: RunSpec,
    body: Callable[[ActiveRun], Awaitable[T]],
    replayed: Callable[[Replay], T] | None = None,
) -> T:
    """Claim the session, run ``body`` on it with the lease kept alive, record the ending, release.

    The claim's transaction also writes the run's row (``running``) and its opening messages. ``body``
    commits the completed run itself (its output is its own business). If it raises, the run is
    committed with status ``error`` (or ``cancelled``) and the exception propagates unchanged. With an
    idempotency key that a completed run of the session already has, nothing runs: ``replayed`` turns
    that run into the result.
    """
    encode_state(spec.passed_state or {})  # refuse unstorable passed state before anything is written
    refuse_reentry(spec.session_id)
    started_at = time.time()
    deadline = math.inf if spec.timeout is None else anyio.current_time() + spec.timeout
    claim = await _bounded(
        deadline,
        lambda: spec.store.claim_or_replay(
            spec.session_id,
            spec.session_type,
            run_id=spec.run_id,
            user_id=spec.user_id,
            component_id=spec.component_id,
            initial_state=spec.default_state,
            on_busy=spec.on_busy,
            busy_timeout=spec.busy_timeout,
            lease_seconds=spec.lease_seconds,
            start=_start(spec, started_at),
        ),
        f"the run timed out after {spec.timeout}s waiting for its session",
    )
    if isinstance(claim, Replay):
        if replayed is None:
            raise UsageError("a run with an idempotency key needs a way to replay the recorded run")
        return replayed(claim)
    run = ActiveRun(spec, claim, started_at)
    token = _held.set(_held.get() | {spec.session_id})
    failure: BaseException | None = None
    try:
        outcome = await _bounded(
            deadline,
            lambda: _run_with_lease(run, body),
            f"the run did not finish within its timeout of {spec.timeout}s",
        )
    except BaseException as error:  # recorded on the run, then re-raised unchanged
        failure = error
        await run.record_failure(error)
        raise
    finally:
        _held.reset(token)
        if not run.released:  # neither the final commit nor the one recording the failure went through
            await _release(run, failure)
    return outcome


async def _bounded(deadline: float, work: Callable[[], Awaitable[T]], timed_out: str) -> T:
    """``await work()``, stopped at ``deadline`` (RunTimeoutError saying ``timed_out``)."""
    with anyio.CancelScope(deadline=deadline):
        return await work()
    raise RunTimeoutError(timed_out)


def _start(spec: RunSpec, started_at: float) -> RunWrite:
    """What the claim writes: the new run's row and opening messages, or a resumed run's status."""
    record = spec.record(RunStatus.running, started_at)
    if spec.resuming:
        return RunWrite(record, mode="resume")
    return RunWrite(record, spec.messages, mode="insert")


async def _run_with_lease(run: ActiveRun, body: Callable[[ActiveRun], Awaitable[T]]) -> T:
    """``body(run)`` with the lease renewed beside it; its exception comes out as itself, not as a group."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_keep_lease, run.spec.store, run.claim)
        try:
            outcome.append(await body(run))
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:  # noqa: BLE001 - re-raised below, outside the task group
            failure.append(error)
        finally:
            tg.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]


_branch_writes: contextvars.ContextVar[list[PatchOp] | None] = contextvars.ContextVar(
    "kern_branch_writes", default=None
)
"""The uncommitted state changes of the workflow branch this code runs in (None: not in a branch)."""

_held: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("kern_held", default=frozenset())
"""The sessions the runs of this context (and the tools they call) hold."""


def refuse_reentry(session_id: str) -> None:
    """Raise UsageError if the calling code runs inside a run holding ``session_id`` (it would deadlock)."""
    if session_id in _held.get():
        raise UsageError(
            f"session {session_id!r} is held by the run this code is part of (a tool or hook?): another "
            "run or state update on it would wait for itself; change run_context.session_state instead"
        )


async def _keep_lease(store: SessionStore, claim: Claim) -> None:
    """Renew the lease at a third of its length until cancelled.

    A renewal the database fails is retried until the lease would expire. A lost claim (taken over) or a
    lease that expired unrenewed is logged and ends the renewals; it is not hidden: this run's next
    commit is refused with ClaimLostError.
    """
    expires_at = claim.expires_at
    while True:
        await anyio.sleep(claim.lease_seconds / 3)
        try:
            expires_at = await store.renew(claim)
        except ClaimLostError as error:
            log.warning("run.claim_lost", run_id=claim.run_id, error=str(error))
            return
        except StorageError as error:
            if time.time() >= expires_at:
                log.warning("run.lease_expired", run_id=claim.run_id, error=str(error))
                return
            log.warning("run.lease_renewal_retry", run_id=claim.run_id, error=str(error))
