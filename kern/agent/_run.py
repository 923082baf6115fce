"""One Agent run: the Agent's turn on a run holding its session.

:func:`run_agent` is the only implementation: ``arun``, ``run``, both streaming and not, and
``print_response`` all come here (through kern.run.top_level, which claims the session, reads the
history and records how the run ended). A turn: the pre-hooks, the model/tool loop, structured output,
the post-hooks, then the commit of the completed run. A team member's run is the same turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kern._private.log import get_logger
from kern.models.message import Message
from kern.run.active import ActiveRun, RunHandle
from kern.run.events import Emit
from kern.run.finish import commit_completed, loop_output
from kern.run.hooks import run_hooks
from kern.run.model_loop import LoopSettings, run_model_loop
from kern.run.output import RunOutput
from kern.run.runnable import RunCall
from kern.run.top_level import run_top_level
from kern.tools import Injected

if TYPE_CHECKING:
    from kern.agent.agent import Agent

log = get_logger(__name__)


async def run_agent(agent: Agent, call: RunCall, emit: Emit) -> RunOutput:
    """Run ``agent`` once on its session and return the committed output."""

    async def turn(run: ActiveRun, history: Sequence[Message]) -> RunOutput:
        return await agent_turn(agent, run, emit, input=call.input, history=history, stream=call.stream)

    return await run_top_level(agent, call, emit, turn)


async def agent_turn(
    agent: Agent,
    run: RunHandle,
    emit: Emit,
    *,
    input: str,
    history: Sequence[Message] = (),
    stream: bool = False,
    team: object | None = None,
) -> RunOutput:
    """The Agent's work on a run that holds its session: hooks, the model/tool loop, the final commit.

    A top-level run and a team member's run (a ChildRun inside the team's claim) both come here.
    """
    injected = Injected(run_context=run.context, agent=agent, team=team, run_input=input)
    await run_hooks(agent.hooks[0], run, injected)

    def prompt() -> list[Message]:
        system = agent.prompt.system_message(run.context)
        return [*([system] if system else []), *history, *run.messages]

    settings = LoopSettings(
        model=agent.resolved_model,
        toolbox=agent.toolbox,
        retries=agent.resolved_model.retries if agent.retries is None else agent.retries,
        stream=stream,
        output_schema=agent.output_schema,
        tool_call_limit=agent.tool_call_limit,
    )
    result = await run_model_loop(settings, run, prompt, injected, emit)
    output = loop_output(run, settings, result, source=agent.component_id)
    await run_hooks(agent.hooks[1], run, dataclasses.replace(injected, run_output=output))
    return await commit_completed(run, output)
