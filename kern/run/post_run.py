"""What runs after a run's commit: the session summary and the user's memories.

Neither can lose or delay the run: they start once the run is committed and its session given up, and
a failure is logged and reported on the output (``output.post_run.errors``), the run stays completed.
They run before ``arun`` returns, or, given ``background=`` (a task group), in that task group while
``arun`` returns at once; ``await output.post_run.wait()`` waits for them either way.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

import anyio

from kern._private.log import get_logger
from kern.db.store import SessionStore
from kern.memory.manager import MemoryChanges, MemoryManager
from kern.models.base import Model
from kern.run.output import RunOutput
from kern.session.schema import SessionSummary
from kern.session.summary import SessionSummaryManager

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PostRunPlan:
    """What a definition does after its runs: summarize the session, learn memories (None: not that)."""

    model: Model
    summaries: SessionSummaryManager | None = None
    memories: MemoryManager | None = None


@dataclass(eq=False)
class PostRun:
    """How the work after a run went: ``wait()`` for it; ``errors`` says what failed."""

    done: anyio.Event = field(default_factory=anyio.Event)
    errors: list[str] = field(default_factory=list[str])
    summary: SessionSummary | None = None
    memory_changes: MemoryChanges | None = None

    async def wait(self) -> None:
        """Return once the summary and memory updates have finished (or failed)."""
        await self.done.wait()


async def after_run(
    plan: PostRunPlan,
    store: SessionStore,
    output: RunOutput,
    post: PostRun,
    *,
    memory_user: str | None,
) -> None:
    """Update the summary and the memories after ``output``'s run; failures go to ``post.errors``.

    ``memory_user`` is the exact owner of the memories to learn (None: the anonymous owner's).
    """
    try:
        if plan.summaries is not None:
            await _guarded(post, "session summary", _summarize(plan, plan.summaries, store, output, post))
        if plan.memories is not None:
            await _guarded(
                post, "user memories", _learn(plan, plan.memories, store, output, post, memory_user)
            )
    finally:
        post.done.set()


async def _summarize(
    plan: PostRunPlan, manager: SessionSummaryManager, store: SessionStore, output: RunOutput, post: PostRun
) -> None:
    previous, messages, last_run_at = await store.summary_input(output.session_id, output.user_id)
    covered = previous.last_run_at if previous is not None else None
    if not messages:
        return  # another update covered this run already
    summary = await manager.summarize(previous, messages, last_run_at=last_run_at, fallback_model=plan.model)
    if await store.set_session_summary(output.session_id, output.user_id, summary, replaces=covered):
        post.summary = summary
    else:  # another update won the race; the next one covers what this one missed
        log.info("run.summary_superseded", session_id=output.session_id)


async def _learn(
    plan: PostRunPlan,
    manager: MemoryManager,
    store: SessionStore,
    output: RunOutput,
    post: PostRun,
    user: str | None,
) -> None:
    post.memory_changes = await manager.learn(
        store, user, output.messages, component_id=output.source, fallback_model=plan.model
    )


async def _guarded(post: PostRun, what: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception as error:  # noqa: BLE001 - reported on the output and logged; the run stays completed
        log.warning("run.post_run_failed", what=what, error=str(error))
        post.errors.append(f"{what}: {type(error).__name__}: {error}")
