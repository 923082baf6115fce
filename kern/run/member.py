"""A runnable doing a task inside another's run: a team's member, or a workflow's agent or team step.

The member runs as a child run inside the claim of the run it serves: its own run row (the parent's
run id, the member's id, the task as input) and messages, and the parent's one live state and state
lock. Its row is written before it starts and committed when it ends, however it ends, before the
parent sees its answer.
"""

from __future__ import annotations

from typing import Protocol

import anyio

from kern.run.active import RunHandle, ending
from kern.run.events import Emit, MemberRunCompleted, MemberRunStarted
from kern.run.output import RunOutput


class Member(Protocol):
    """What can run as a member: an Agent or a Team."""

    @property
    def component_id(self) -> str: ...
    @property
    def memory_limit(self) -> int | None: ...

    async def arun_member(
        self, run: RunHandle, emit: Emit, *, task: str, stream: bool = False, team: object | None = None
    ) -> RunOutput: ...


async def run_member(
    parent: RunHandle,
    member: Member,
    task: str,
    emit: Emit,
    *,
    source: str,
    stream: bool = False,
    team: object | None = None,
) -> RunOutput:
    """Run ``member`` on ``task`` as a child run of ``parent``, and commit how it ended.

    ``source`` is the id the Member events are emitted under (the team or workflow); ``team`` is what
    the member's tools get injected as ``team``.
    """
    child = parent.child(
        component_id=member.component_id,
        input=task,
        parent_run_id=parent.context.run_id,
        memory_limit=member.memory_limit,
    )
    if (memory := child.context.memory) is not None:
        memory.memories[:] = await memory.store.memories_of(memory.user_id, limit=memory.limit)
    await child.checkpoint()
    context = parent.context
    await emit(
        MemberRunStarted(
            run_id=context.run_id,
            session_id=context.session_id,
            source=source,
            member_id=member.component_id,
            member_run_id=child.context.run_id,
            task=task,
        )
    )
    try:
        output = await member.arun_member(child, emit, task=task, stream=stream, team=team)
    except BaseException as error:  # recorded on the member's run, then re-raised unchanged
        status, text = ending(error)
        with anyio.CancelScope(shield=True):
            await child.checkpoint(status, error=text, metrics=child.metrics_so_far())
        raise
    await emit(
        MemberRunCompleted(
            run_id=context.run_id,
            session_id=context.session_id,
            source=source,
            member_id=member.component_id,
            output=output,
        )
    )
    return output
