"""Step names (DESIGN.md §7): as in Agno, a composite's name is optional; a derived name depends only on
the definition (its kind and its position among its siblings), so a run resumes under the same names."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kern.db.base import SyncDb
from kern.exceptions import UsageError
from kern.run import RunStatus
from kern.workflow import Condition, Loop, Parallel, Router, StepInput, Steps, Workflow


def names(workflow: Workflow) -> list[str]:
    """The names of the workflow's top-level steps."""
    return [node.name for node in workflow.nodes]


def step(step_input: StepInput) -> str:
    return "done"


def ported(calls: Counter[str], failing: list[bool], db: SyncDb | None = None) -> Workflow:
    """An Agno-style workflow, no composite named; ``publish`` fails while ``failing[0]`` is set.

    Each call builds new closures over the same counters, as another process would build its own.
    """

    def research(step_input: StepInput) -> str:
        calls["research"] += 1
        return "notes"

    def is_long(step_input: StepInput) -> bool:
        calls["evaluator"] += 1
        return True

    def outline(step_input: StepInput) -> str:
        calls["outline"] += 1
        return "outline"

    def refine(step_input: StepInput) -> int:
        calls["refine"] += 1
        return calls["refine"]

    def good_enough(outputs: list[Any]) -> bool:
        calls["end_condition"] += 1
        return False

    def pick(step_input: StepInput) -> str:
        calls["selector"] += 1
        return "publish"

    def publish(step_input: StepInput) -> str:
        calls["publish"] += 1
        if failing[0]:
            raise RuntimeError("the press is down")
        return "published"

    def archive(step_input: StepInput) -> str:
        calls["archive"] += 1
        return "archived"

    return Workflow(
        name="ported",
        db=db,
        steps=[
            research,
            Condition(evaluator=is_long, steps=[outline]),
            Loop(steps=[refine], end_condition=good_enough, max_iterations=3),
            Router(selector=pick, choices=[publish, archive]),
        ],
    )


@pytest.mark.anyio
async def test_condition_loop_and_router_run_without_names() -> None:
    """A ported Agno workflow whose Condition, Loop and Router have no ``name=`` runs; each takes its kind."""
    calls: Counter[str] = Counter()
    workflow = ported(calls, [False])
    output = await workflow.arun("go")
    assert (output.status, output.content) == (RunStatus.completed, "published")
    assert names(workflow) == ["research", "condition", "loop", "router"]
    assert (calls["outline"], calls["refine"], calls["publish"], calls["archive"]) == (1, 3, 1, 0)


@pytest.mark.anyio
async def test_an_unnamed_workflow_resumes_in_a_freshly_built_one(agent_db: SyncDb) -> None:
    """A run failed inside an unnamed router resumes in a new, identical Workflow; nothing done reruns."""
    calls: Counter[str] = Counter()
    failing = [True]
    first = ported(calls, failing, agent_db)
    with pytest.raises(RuntimeError, match="the press is down"):
        await first.arun("go")
    runs = await first.store.get_runs(first.default_session_id)
    (run_id,) = [r.run_id for r in runs if r.parent_run_id is None and r.status is RunStatus.error]
    before = dict(calls)
    failing[0] = False
    output = await ported(calls, failing, agent_db).aresume(run_id)
    assert (output.run_id, output.status, output.content) == (run_id, RunStatus.completed, "published")
    assert dict(calls) == {**before, "publish": 2}
    assert (before["evaluator"], before["refine"], before["selector"]) == (1, 3, 1)


def test_unnamed_siblings_of_one_kind_are_numbered_in_order() -> None:
    """Two unnamed loops (or parallels) side by side are ``loop`` and ``loop_2``, as bare functions are."""
    workflow = Workflow(
        name="twins",
        steps=[Loop(steps=[step]), Loop(steps=[step]), Parallel(step), Parallel(step), Steps(steps=[step])],
    )
    assert names(workflow) == ["loop", "loop_2", "parallel", "parallel_2", "steps"]


def test_derived_names_go_around_given_ones() -> None:
    """A name a sibling was given is never taken by a derived one, wherever that sibling stands."""
    workflow = Workflow(
        name="around", steps=[Condition(evaluator=True, steps=[step]), Loop(name="condition", steps=[step])]
    )
    assert names(workflow) == ["condition_2", "condition"]


def test_two_given_names_that_clash_are_still_a_usage_error() -> None:
    """Only derived names are numbered: two siblings given one name are refused."""
    with pytest.raises(UsageError, match="two steps named 'check'"):
        Workflow(
            name="clash",
            steps=[Condition(name="check", evaluator=True, steps=[step]), Loop(name="check", steps=[step])],
        )


def test_a_composite_used_twice_is_numbered_without_renaming_the_original() -> None:
    """The second use of one unnamed composite is a renamed copy; the object itself keeps its name."""
    router = Router(selector=lambda si: "step", choices=[step])
    workflow = Workflow(name="reused", steps=[router, router])
    assert names(workflow) == ["router", "router_2"]
    assert router.name == "router"
    assert workflow.nodes[1].name == "router_2"
    assert workflow.nodes[1] is not router


def test_derived_names_depend_only_on_the_definition() -> None:
    """Two workflows built alike name every step alike, nested ones included (no ids or addresses)."""

    def build() -> Workflow:
        inner = [Loop(steps=[step]), Loop(steps=[step])]
        return Workflow(
            name="alike", steps=[Condition(evaluator=True, steps=inner), Router(selector=str, choices=[step])]
        )

    def tree(workflow: Workflow) -> list[Any]:
        condition = workflow.nodes[0]
        assert isinstance(condition, Condition)
        return [names(workflow), [node.name for node in condition.steps]]

    assert tree(build()) == tree(build()) == [["condition", "router"], ["loop", "loop_2"]]


def test_a_step_takes_its_name_from_what_it_runs_when_given_none() -> None:
    """``Step(executor=fn)`` and ``Step(agent=...)`` need no name (Agno's is optional): they take the
    function's or the agent's, numbered among siblings that share it."""
    from kern.agent import Agent
    from kern.testing import ScriptedModel
    from kern.workflow import Step

    writer = Agent(name="Writer", model=ScriptedModel("x"))
    workflow = Workflow(
        name="w",
        steps=[
            Step(executor=step),
            Step(executor=step),
            Step(agent=writer),
            Step(name="step", executor=step),
        ],
    )
    assert names(workflow) == ["step_2", "step_3", "Writer", "step"]
