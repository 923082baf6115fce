"""A workflow run's journal as the engine uses it: what was recorded, and the rows it writes.

A step's row is written once it has something to keep: how it ended (with its output and the state it
changed, in the transaction that commits it) or, for a condition, loop or router, the decision it took
before its children run. Its start is not written: a resumed run runs again every step without a
row saying it ended, the one in flight when the process died included. So ``attempt`` counts the
attempts of a step that wrote its row (an attempt killed with its process before writing anything
leaves no trace; the run's own row, path ``run``, counts the run's resumes). On resume the rows
recorded so far are checked against the workflow as it is now (:func:`check_against`), so a step
renamed or removed since the run started stops the resume with a clear error instead of replaying
the wrong output.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from kern.exceptions import WorkflowError
from kern.run.active import ActiveRun
from kern.session.patch import PatchOp
from kern.session.schema import StepRecord
from kern.session.status import StepStatus
from kern.workflow.composite import Condition, Loop, Node, Parallel, Router, Steps, children

RUN_PATH = "run"
"""The journal row of the run itself: which workflow, defined where. ``kern workflow resume`` only
compares that ``source`` with the definition it is given; it never loads what a row says."""


class Journal:
    """The rows of one run: read once on resume, written through the run's commits."""

    def __init__(self, run: ActiveRun, recorded: Sequence[StepRecord] = ()) -> None:
        self.run = run
        self.recorded: dict[str, StepRecord] = {row.step_path: row for row in recorded}

    def done(self, path: str) -> StepRecord | None:
        """The row of a step that ended (before the run was resumed: its outcome is reused), else None."""
        row = self.recorded.get(path)
        return row if row is not None and row.status.is_done else None

    def decision(self, path: str) -> Any:
        """What the step at ``path`` decided, in this run or before it was resumed (None: nothing yet)."""
        row = self.recorded.get(path)
        return row.decision if row is not None else None

    def decided(self, path: str, key: str) -> Any:
        """The ``key`` of what the step at ``path`` decided (a condition's, a loop's, a router's), or None."""
        return decision_field(self.decision(path), key)

    def attempts(self, path: str) -> int:
        """How many attempts of the step at ``path`` wrote its row before (see the module's docstring)."""
        row = self.recorded.get(path)
        return row.attempt if row is not None else 0

    def begin(self, path: str, name: str, *, attempt: int, started_at: float) -> None:
        """Note that the step at ``path`` starts (attempt ``attempt``), in memory only: nothing is committed.

        Its first :meth:`write` (a decision, or how it ended) stores ``attempt`` and ``started_at``; a
        decision it recorded before the run was resumed is kept.
        """
        self.recorded[path] = StepRecord(
            run_id=self.run.spec.run_id,
            step_path=path,
            step_name=name,
            status=StepStatus.running,
            decision=self.decision(path),
            attempt=attempt,
            started_at=started_at,
        )

    async def write(
        self,
        path: str,
        name: str,
        status: StepStatus,
        *,
        attempt: int,
        started_at: float,
        output: Any = None,
        decision: Any = None,
        error: str | None = None,
        with_state: bool = False,
    ) -> None:
        """Commit the row of the step at ``path`` (with the state changes since the last commit).

        Without ``decision``, the row keeps the one the step recorded before.
        """
        if decision is None:
            decision = self.decision(path)
        row = StepRecord(
            run_id=self.run.spec.run_id,
            step_path=path,
            step_name=name,
            status=status,
            output=output,
            decision=decision,
            error=error,
            attempt=attempt,
            started_at=started_at,
            finished_at=None if status is StepStatus.running else time.time(),
        )

        def rows(patch: Sequence[PatchOp]) -> list[StepRecord]:
            if with_state:
                row.state_patch = [op.to_json() for op in patch]
            return [row]

        await self.run.commit_writes(steps=rows, with_state=with_state)
        self.recorded[path] = row


_KINDS: dict[type, str] = {
    Steps: "steps",
    Parallel: "parallel",
    Condition: "condition",
    Loop: "loop",
    Router: "router",
}
"""The path segment under a composite, by its class."""


def decision_field(decision: Any, key: str) -> Any:
    """``decision[key]`` of a journaled decision (a dict), or None."""
    return cast("dict[str, Any]", decision).get(key) if isinstance(decision, dict) else None


def check_against(steps: Sequence[Node], recorded: Mapping[str, StepRecord]) -> None:
    """Raise WorkflowError if a recorded step is no longer where the run recorded it, under its name."""
    problems: list[str] = []
    for path, row in recorded.items():
        if path == RUN_PATH:
            continue
        node = _resolve(steps, path.split("/"), "", recorded)
        if isinstance(node, Router):
            problems.extend(_missing_choices(node, path, row))
        if node is None:
            problems.append(f"step {row.step_name!r} at path {path} is no longer in the workflow")
        elif node.name != row.step_name:
            problems.append(
                f"the step at path {path} was {row.step_name!r} when the run started and is now {node.name!r}"
            )
    if problems:
        raise WorkflowError(
            "the workflow changed since the run started, so it cannot be resumed safely: "
            + "; ".join(sorted(problems))
        )


def _missing_choices(router: Router, path: str, row: StepRecord) -> list[str]:
    """What a router's recorded route names that its choices no longer have."""
    route = decision_field(row.decision, "route")
    names = {choice.name for choice in router.choices}
    recorded = [str(name) for name in cast("list[Any]", route)] if isinstance(route, list) else []
    return [
        f"router {router.name!r} at path {path} chose {name!r}, which is no longer one of its choices"
        for name in recorded
        if name not in names
    ]


def _resolve(
    steps: Sequence[Node], parts: list[str], prefix: str, recorded: Mapping[str, StepRecord]
) -> Node | None:
    """The node at ``parts`` (a path split on "/", below ``prefix``) among ``steps``, or None."""
    if not parts or not parts[0].isdigit() or int(parts[0]) >= len(steps):
        return None
    node_path = f"{prefix}/{parts[0]}" if prefix else parts[0]
    return _inside(steps[int(parts[0])], node_path, parts[1:], recorded)


def _inside(node: Node, node_path: str, rest: list[str], recorded: Mapping[str, StepRecord]) -> Node | None:
    """``node`` itself when ``rest`` is empty, else the node ``rest`` leads to inside it."""
    if not rest:
        return node
    kind = _KINDS.get(type(node))
    if kind is None or rest[0] != kind:
        return None
    here = f"{node_path}/{kind}"
    if isinstance(node, Loop):
        if len(rest) < 2 or not rest[1].isdigit():
            return None
        return _resolve(node.steps, rest[2:], f"{here}/{rest[1]}", recorded)
    if isinstance(node, Router):
        row = recorded.get(node_path)
        route = decision_field(row.decision if row is not None else None, "route")
        names = cast("list[Any]", route) if isinstance(route, list) else []
        if len(rest) < 2 or not rest[1].isdigit() or int(rest[1]) >= len(names):
            return None
        chosen = [choice for choice in node.choices if choice.name == names[int(rest[1])]]
        return _inside(chosen[0], f"{here}/{rest[1]}", rest[2:], recorded) if chosen else None
    assert isinstance(node, Steps | Parallel | Condition)
    return _resolve(children(node), rest[1:], here, recorded)
