"""Delegation: the coordinator's tools that hand tasks to members, and a member's run inside the team's.

The tools are built once (a Function is immutable); what they act on, the team run in progress, is in
a context variable that the team's run sets around its model/tool loop, so the concurrent tool calls
of one turn (several delegations at once) all see it and runs of other teams never do. Each member
runs as a child run inside the team's claim (kern.run.member), committed when it finishes, before the
coordinator sees the answer.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from kern.exceptions import ToolCallError
from kern.run.active import RunHandle
from kern.run.events import Emit
from kern.run.member import Member, run_member
from kern.run.output import RunOutput
from kern.tools import Function

if TYPE_CHECKING:
    from kern.team.team import Team


@dataclass(slots=True)
class Delegation:
    """One team run's delegations: who may be asked, the concurrency bound, and what they answered."""

    team: Team
    members: Mapping[str, Member]
    run: RunHandle
    emit: Emit
    stream: bool
    limiter: anyio.CapacityLimiter
    outputs: list[RunOutput] = field(default_factory=list[RunOutput])

    async def delegate(self, member_id: str, task: str, expected_output: str | None) -> RunOutput:
        """Run ``task`` on one member and record its output."""
        member = self.members.get(member_id)
        if member is None:
            known = ", ".join(sorted(self.members))
            raise ToolCallError(f"there is no member {member_id!r} in this team; the members are: {known}")
        async with self.limiter:
            output = await run_member(
                self.run,
                member,
                self._task(task, expected_output),
                self.emit,
                source=self.team.component_id,
                stream=self.stream,
                team=self.team,
            )
        self.outputs.append(output)
        return output

    def _task(self, task: str, expected_output: str | None) -> str:
        parts = [task]
        if expected_output:
            parts.append(f"Expected output: {expected_output}")
        if self.team.share_member_interactions and self.outputs:
            shared = "\n".join(f"- {o.source}: {o.get_content_as_string()}" for o in self.outputs)
            parts.append(f"What other members of the team answered so far:\n{shared}")
        return "\n\n".join(parts)


current: contextvars.ContextVar[Delegation] = contextvars.ContextVar("kern_team_delegation")
"""The delegations of the team run whose loop is running in this context."""


async def delegate_task_to_member(member_id: str, task: str, expected_output: str | None = None) -> str:
    """Give one member of your team a task and get its answer back.

    Several calls in one turn run at the same time. The member knows only what the task says, so
    include everything it needs.

    Args:
        member_id: The id of the member, as listed in your instructions.
        task: What the member should do, with all the context it needs.
        expected_output: What a good answer looks like, if that matters.
    """
    output = await current.get().delegate(member_id, task, expected_output)
    return output.get_content_as_string()


async def delegate_task_to_members(task: str, expected_output: str | None = None) -> str:
    """Give every member of your team the same task at once, and get all their answers back.

    Args:
        task: What every member should do, with all the context it needs.
        expected_output: What a good answer looks like, if that matters.
    """
    delegation = current.get()
    answers: dict[str, str] = {}

    async def ask(member_id: str) -> None:
        try:
            output = await delegation.delegate(member_id, task, expected_output)
            answers[member_id] = output.get_content_as_string()
        except Exception as error:  # noqa: BLE001 - one member failing is part of the answer, not the end
            answers[member_id] = f"failed: {type(error).__name__}: {error}"

    async with anyio.create_task_group() as tg:
        for member_id in delegation.members:
            tg.start_soon(ask, member_id)
    return "\n\n".join(f"## {member_id}\n{answers[member_id]}" for member_id in delegation.members)


COORDINATE = Function.from_callable(delegate_task_to_member)
ROUTE = Function.from_callable(delegate_task_to_member, stop_after_tool_call=True, show_result=True)
BROADCAST = Function.from_callable(delegate_task_to_members)
