"""The Workflow definition: steps of agents, teams and functions over one session, resumable.

A Workflow is immutable once built and serves any number of concurrent runs. Its runs persist in a
WorkflowSession whose ``session_state`` every step shares (agents and teams inside included). Each
step is journaled (kern.workflow._engine), so ``resume(run_id)`` continues a failed or interrupted run
in any process without running its completed steps again.
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, overload

from pydantic import BaseModel

from kern._private.sync import iterate_sync, run_sync
from kern.db.base import BaseDb
from kern.db.records import OnBusy
from kern.db.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_LEASE_SECONDS, SessionStore
from kern.exceptions import WorkflowError
from kern.run.events import Emit, RunEvent, discard
from kern.run.output import RunOutput
from kern.run.runnable import RunCall, Runnable, check_definition, process_store, slug
from kern.run.streams import EventStream, event_stream
from kern.session.schema import SessionType
from kern.session.status import RunStatus
from kern.workflow._journal import check_against
from kern.workflow._run import run_workflow
from kern.workflow.composite import Node, nodes_of


@dataclass(frozen=True, kw_only=True, eq=False, slots=True)
class Workflow(Runnable):
    """Steps run in order on one session: ``Workflow(name=..., steps=[...], db=...)``.

    ``steps`` takes Steps and composites (kern.workflow.composite), Agents, Teams and functions.
    ``session_state`` is the state a new session starts with; a run's ``session_state=`` merges over
    the stored one (or replaces it with ``overwrite_db_session_state``). ``source`` says where the
    definition came from (a YAML file, ``module:attr``), recorded with each run so that
    ``kern workflow resume`` can compare it with the definition it is given (it never imports it).
    """

    name: str
    steps: Sequence[Any]
    id: str | None = None
    description: str | None = None
    db: BaseDb | None = None
    session_id: str | None = None
    user_id: str | None = None
    session_state: Mapping[str, Any] | None = None
    overwrite_db_session_state: bool = False
    dependencies: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    markdown: bool = False
    on_busy: OnBusy = "wait"
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    source: str | None = None
    _nodes: tuple[Node, ...] = field(init=False, repr=False)

    session_type: ClassVar[SessionType] = SessionType.WORKFLOW

    def __post_init__(self) -> None:
        check_definition(self, id=self.id, name=self.name, session_id=self.session_id)
        object.__setattr__(self, "_nodes", nodes_of(self.steps, f"workflow {self.name!r}"))
        object.__setattr__(self, "id", self.id or slug(self.name) or "workflow")
        object.__setattr__(self, "session_id", self.session_id or str(uuid.uuid4()))

    @property
    def add_history_to_context(self) -> bool:
        """A workflow's run shows no history to a model (its agent steps keep their own runs)."""
        return False

    @property
    def num_history_runs(self) -> int:
        """See :attr:`add_history_to_context`."""
        return 0

    @property
    def output_schema(self) -> type[BaseModel] | None:
        """A workflow's output is its last step's; it has no schema of its own."""
        return None

    @property
    def post_run_plan(self) -> None:
        """A workflow's own runs keep no summary and learn no memories (its agents may)."""
        return None

    @property
    def show_summary(self) -> bool:
        """See :attr:`post_run_plan`."""
        return False

    @property
    def memory_limit(self) -> None:
        """See :attr:`post_run_plan`."""
        return None

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The steps, each as a Step or composite."""
        return self._nodes

    @property
    def component_id(self) -> str:
        """The id runs and sessions are stored under: ``id``, else derived from ``name``."""
        assert self.id is not None
        return self.id

    @property
    def default_session_id(self) -> str:
        """The session runs use when the call names none (generated when the workflow was built)."""
        assert self.session_id is not None
        return self.session_id

    @property
    def store(self) -> SessionStore:
        """The store runs persist to: the ``db``'s, or the process's in-memory one."""
        return self.db.store if self.db is not None else process_store()

    def _execute(self, call: RunCall, emit: Emit) -> Coroutine[Any, Any, RunOutput]:
        return run_workflow(self, call, emit)

    # --- resume -------------------------------------------------------------------------------------------

    @overload
    def aresume(
        self, run_id: str, *, stream: Literal[False] = False, user_id: str | None = None
    ) -> Coroutine[Any, Any, RunOutput]: ...

    @overload
    def aresume(self, run_id: str, *, stream: Literal[True], user_id: str | None = None) -> EventStream: ...

    def aresume(
        self, run_id: str, *, stream: bool = False, user_id: str | None = None
    ) -> Coroutine[Any, Any, RunOutput] | EventStream:
        """Continue the failed or interrupted run ``run_id`` (in this process or any other).

        Steps it completed are not run again (their recorded outputs are reused), the decisions it
        took are replayed, and the step that was in flight runs again. A run still alive elsewhere is
        waited for as a busy session is (``on_busy``, ``busy_timeout``). The owner rule is ``run``'s:
        the run must be ``user_id``'s, else the workflow's ``user_id``'s, else the anonymous owner's
        (a run without a user); a run on a session another user owns raises SessionOwnershipError
        and nothing is written. Raises WorkflowError if there is no such run, it belongs to another
        workflow, it completed, or the steps it recorded are no longer where they were.
        """
        if stream:
            return event_stream(lambda emit: self._resume(run_id, user_id, stream, emit))
        return self._resume(run_id, user_id, stream, discard)

    @overload
    def resume(
        self, run_id: str, *, stream: Literal[False] = False, user_id: str | None = None
    ) -> RunOutput: ...

    @overload
    def resume(
        self, run_id: str, *, stream: Literal[True], user_id: str | None = None
    ) -> Iterator[RunEvent]: ...

    def resume(
        self, run_id: str, *, stream: bool = False, user_id: str | None = None
    ) -> RunOutput | Iterator[RunEvent]:
        """The sync face of :meth:`aresume`."""
        if stream:
            return iterate_sync(
                lambda: event_stream(lambda emit: self._resume(run_id, user_id, stream, emit))
            )
        return run_sync(lambda: self._resume(run_id, user_id, stream, discard))

    async def _resume(self, run_id: str, user_id: str | None, stream: bool, emit: Emit) -> RunOutput:
        owner = self._user(user_id)  # as run() does: never "any owner"
        found = await self.store.journal_of(run_id, owner)
        if found is None:
            raise WorkflowError(f"there is no run {run_id!r} to resume")
        run, _ = found
        if run.component_id != self.component_id or run.parent_run_id is not None:
            raise WorkflowError(
                f"run {run_id!r} is not a run of workflow {self.component_id!r} "
                f"(it is {run.component_id!r}'s)"
            )
        if run.status is RunStatus.completed:
            raise WorkflowError(f"run {run_id!r} completed; there is nothing to resume")
        check_against(self.nodes, {row.step_path: row for row in found[1]})
        call = RunCall(
            input=run.input if isinstance(run.input, str) else "",
            session_id=run.session_id,
            user_id=owner,
            session_state=None,
            dependencies=dict(self.dependencies or {}),
            metadata=dict(self.metadata or {}),
            stream=stream,
        )
        return await run_workflow(self, call, emit, resume_run_id=run_id)
