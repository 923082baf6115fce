"""Running a workflow's steps on a run that holds its session, journaling each one.

Every step has a path (``"2"``, ``"3/parallel/1"``, ``"4/loop/2/0"``). A step costs one transaction:
its start is not written (its attempt number and start time are kept in memory, see
:meth:`Journal.begin`); when it ends, its row (output, status, attempt, start and end times) and the
state changes since the last commit go in one transaction, before the next step starts. A condition,
loop or router also commits its row with its decision before the children it chose run. A resumed run
walks the same tree: steps whose rows say they ended are not run again (their outputs are reused), the
decisions of conditions, loops and routers are replayed, and every other step runs: the one that was in
flight (no row, or a row still ``running`` with a decision) among them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import anyio

from kern._private.log import get_logger
from kern.exceptions import UsageError
from kern.run.active import ActiveRun
from kern.run.events import Emit, StepCompleted, StepStarted
from kern.run.member import run_member
from kern.run.state_call import call_injected
from kern.session.codec import encode
from kern.session.status import StepStatus
from kern.tools.injection import STEP_KINDS, Injected, plan_of
from kern.workflow._journal import Journal
from kern.workflow.composite import Composite, Condition, Loop, Node, Parallel, Router, Steps
from kern.workflow.step import Step, StepInput, StepOutput

if TYPE_CHECKING:
    from kern.workflow.workflow import Workflow

log = get_logger(__name__)


@dataclass
class Engine:
    """One run of a workflow's step tree."""

    workflow: Workflow
    run: ActiveRun
    journal: Journal
    emit: Emit
    input: str
    stream: bool = False
    outputs: dict[str, StepOutput] = field(default_factory=dict[str, StepOutput])

    async def sequence(
        self, nodes: Sequence[Node], prefix: str, previous: StepOutput | None
    ) -> StepOutput | None:
        """Run ``nodes`` in order (paths ``prefix/i``); the last output (``previous`` if none ran)."""
        for i, node in enumerate(nodes):
            output = await self.step(node, f"{prefix}/{i}" if prefix else str(i), previous)
            if output is not None:
                previous = output
        return previous

    async def step(self, node: Node, path: str, previous: StepOutput | None) -> StepOutput | None:
        """Run one step (or reuse its recorded outcome) and commit it; None if it was skipped."""
        if (row := self.journal.done(path)) is not None:
            output = StepOutput.from_json(row.output) if row.status is not StepStatus.skipped else None
            await self._ended(node, path, row.status, output, row.error, replayed=True)
            return output
        attempt, started_at = self.journal.attempts(path) + 1, time.time()
        self.journal.begin(path, node.name, attempt=attempt, started_at=started_at)  # no commit
        await self._emit(StepStarted, step_name=node.name, step_path=path)
        try:
            output = await self._run(node, path, previous)
            stored = encode(output.to_json(), path=f"the output of step {node.name!r}")
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self.journal.write(
                    path,
                    node.name,
                    StepStatus.cancelled,
                    attempt=attempt,
                    started_at=started_at,
                    error="cancelled",
                )
            raise
        except Exception as error:  # noqa: BLE001 - recorded, then re-raised unless the step says go on
            return await self._failed(node, path, error, attempt=attempt, started_at=started_at)
        except BaseException as error:  # a SystemExit & co: never skipped or retried, recorded, re-raised
            await self._record_error(node, path, error, attempt=attempt, started_at=started_at)
            raise
        await self.journal.write(
            path,
            node.name,
            StepStatus.completed,
            attempt=attempt,
            started_at=started_at,
            output=stored,
            with_state=True,
        )
        await self._ended(node, path, StepStatus.completed, output, None)
        return output

    async def _failed(
        self, node: Node, path: str, error: Exception, *, attempt: int, started_at: float
    ) -> StepOutput | None:
        text = f"{type(error).__name__}: {error}"
        on_error = node.on_error if isinstance(node, Step) else "fail"
        log.warning("workflow.step_failed", step=node.name, path=path, error=text, on_error=on_error)
        if on_error == "fail":
            await self._record_error(node, path, error, attempt=attempt, started_at=started_at)
            raise error
        status = StepStatus.skipped if on_error == "skip" else StepStatus.continued
        output = None if on_error == "skip" else StepOutput(step_name=node.name, success=False, error=text)
        stored = output.to_json() if output is not None else None
        await self.journal.write(
            path,
            node.name,
            status,
            attempt=attempt,
            started_at=started_at,
            output=stored,
            error=text,
            with_state=True,
        )
        await self._ended(node, path, status, output, text)
        return output

    async def _record_error(
        self, node: Node, path: str, error: BaseException, *, attempt: int, started_at: float
    ) -> None:
        """Write the step's row ``error`` (a cancellation cannot stop it) and note the step on ``error``."""
        text = f"{type(error).__name__}: {error}"
        with anyio.CancelScope(shield=True):
            await self.journal.write(
                path, node.name, StepStatus.error, attempt=attempt, started_at=started_at, error=text
            )
        error.add_note(f"in workflow step {node.name!r} (path {path})")

    async def _ended(
        self,
        node: Node,
        path: str,
        status: StepStatus,
        output: StepOutput | None,
        error: str | None,
        *,
        replayed: bool = False,
    ) -> None:
        if output is not None:
            self.outputs[node.name] = output
        content = output.content if output is not None else None
        await self._emit(
            StepCompleted,
            step_name=node.name,
            step_path=path,
            status=status.value,
            content=content,
            error=error,
            replayed=replayed,
        )

    async def _emit(self, kind: type[StepStarted] | type[StepCompleted], **fields: Any) -> None:
        context = self.run.context
        await self.emit(
            kind(
                run_id=context.run_id,
                session_id=context.session_id,
                source=self.workflow.component_id,
                **fields,
            )
        )

    def _input(self, previous: StepOutput | None) -> StepInput:
        return StepInput(
            input=self.input, previous_step_output=previous, previous_step_outputs=dict(self.outputs)
        )

    async def _run(self, node: Node, path: str, previous: StepOutput | None) -> StepOutput:
        if isinstance(node, Step):
            return await self._leaf(node, previous)
        return await self._composite(node, path, previous)

    # --- leaves ---------------------------------------------------------------------------------------------

    async def _leaf(self, step: Step, previous: StepOutput | None) -> StepOutput:
        delay = step.retry_delay
        for attempt in range(step.retries + 1):
            try:
                return await self._leaf_once(step, previous)
            except Exception as error:
                if attempt == step.retries:
                    raise
                log.info(
                    "workflow.step_retry",
                    step=step.name,
                    attempt=attempt + 1,
                    error=f"{type(error).__name__}: {error}",
                )
                await anyio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def _leaf_once(self, step: Step, previous: StepOutput | None) -> StepOutput:
        step_input = self._input(previous)
        member = step.agent or step.team
        if member is not None:
            try:
                output = await run_member(
                    self.run,
                    member,
                    step_input.task(),
                    self.emit,
                    source=self.workflow.component_id,
                    stream=self.stream,
                )
            except Exception:
                await self.run.undo_uncommitted_state()  # a retry or a skip starts from the committed state
                raise
            return StepOutput(content=output.content, step_name=step.name)
        assert step.executor is not None
        result = await self.call(step.executor, step_input, inline=step.inline)
        if isinstance(result, StepOutput):
            return (
                result
                if result.step_name is not None
                else StepOutput(result.content, step.name, result.success, result.error)
            )
        return StepOutput(content=result, step_name=step.name)

    async def call(self, fn: Any, *args: Any, inline: bool = False) -> Any:
        """Call a workflow function (a step, a condition, a selector) with ``args`` and what it asks to be
        injected; one that takes the state runs as a state call (all or nothing, under the state lock).
        ``inline``: a sync ``fn`` is called on the event loop, not in a worker thread."""
        plan = plan_of(fn, STEP_KINDS, skip_first=True)
        injected = Injected(run_context=self.run.context)
        return await call_injected(self.run, fn, args, injected, plan, inline=inline)

    # --- composites ----------------------------------------------------------------------------------------

    async def _composite(self, node: Composite, path: str, previous: StepOutput | None) -> StepOutput:
        if isinstance(node, Steps):
            last = await self.sequence(node.steps, f"{path}/steps", previous)
        elif isinstance(node, Parallel):
            return await self._parallel(node, path, previous)
        elif isinstance(node, Condition):
            last = await self._condition(node, path, previous)
        elif isinstance(node, Loop):
            last = await self._loop(node, path, previous)
        else:
            last = await self._router(node, path, previous)
        content = last.content if last is not None else None
        return StepOutput(content=content, step_name=node.name)

    async def _parallel(self, node: Parallel, path: str, previous: StepOutput | None) -> StepOutput:
        results: dict[int, StepOutput | None] = {}
        failures: list[BaseException] = []

        async def branch(i: int, child: Node) -> None:
            try:
                with self.run.branch_writes():  # its commits carry its own writes, not its siblings'
                    results[i] = await self.step(child, f"{path}/parallel/{i}", previous)
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as error:  # noqa: BLE001 - re-raised below, outside the task group
                failures.append(error)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for i, child in enumerate(node.steps):
                tg.start_soon(branch, i, child)
        if failures:
            raise failures[0]
        content = {
            child.name: out.content
            for i, child in enumerate(node.steps)
            if (out := results.get(i)) is not None
        }
        return StepOutput(content=content, step_name=node.name)

    async def _condition(self, node: Condition, path: str, previous: StepOutput | None) -> StepOutput | None:
        recorded = self.journal.decided(path, "condition")
        if isinstance(recorded, bool):
            holds = recorded
        else:
            holds = (
                node.evaluator
                if isinstance(node.evaluator, bool)
                else await self._decide(node.evaluator, self._input(previous), node.name)
            )
            await self._decided(node, path, {"condition": holds})
        if not holds:
            return previous
        return await self.sequence(node.steps, f"{path}/condition", previous)

    async def _loop(self, node: Loop, path: str, previous: StepOutput | None) -> StepOutput | None:
        recorded = self.journal.decided(path, "ended")
        ends = [bool(end) for end in cast("list[Any]", recorded)] if isinstance(recorded, list) else []
        for iteration in range(node.max_iterations):
            before = dict(self.outputs)
            previous = await self.sequence(node.steps, f"{path}/loop/{iteration}", previous)
            if iteration < len(ends):
                ended = ends[iteration]
            else:
                names = [child.name for child in node.steps]
                outputs = [
                    self.outputs[n]
                    for n in names
                    if n in self.outputs and self.outputs[n] is not before.get(n)
                ]
                ended = node.end_condition is not None and await self._decide(
                    node.end_condition, outputs, node.name
                )
                ends.append(ended)
                await self._decided(node, path, {"ended": list(ends)})
            if ended:
                break
        return previous

    async def _router(self, node: Router, path: str, previous: StepOutput | None) -> StepOutput | None:
        recorded = self.journal.decided(path, "route")
        if isinstance(recorded, list):
            route = [node.choice(str(name)) for name in cast("list[Any]", recorded)]
        else:
            picked = await self.call(node.selector, self._input(previous))
            route = self._route(node, picked)
            await self._decided(node, path, {"route": [choice.name for choice in route]})
        return await self.sequence(route, f"{path}/router", previous)

    def _route(self, node: Router, picked: Any) -> list[Node]:
        items = list(cast("list[Any]", picked)) if isinstance(picked, list | tuple) else [picked]
        route: list[Node] = []
        for item in items:
            name = item if isinstance(item, str) else getattr(item, "name", None)
            if not isinstance(name, str):
                raise UsageError(
                    f"the selector of router {node.name!r} returned {item!r}; "
                    "return a choice, its name, or a list of them"
                )
            route.append(node.choice(name))
        return route

    async def _decide(self, fn: Any, argument: Any, name: str) -> bool:
        result = await self.call(fn, argument)
        if not isinstance(result, bool):
            raise UsageError(
                f"the decision function of {name!r} returned {result!r}; it must return True or False"
            )
        return result

    async def _decided(self, node: Node, path: str, decision: dict[str, Any]) -> None:
        row = self.journal.recorded[path]  # begun (in memory) when the step started
        await self.journal.write(
            path,
            node.name,
            StepStatus.running,
            attempt=row.attempt,
            started_at=row.started_at,
            decision=decision,
        )
