"""YAML workflows (DESIGN.md §7): a file builds the same objects as Python; a mistake is one located error.

Each file in ``fixtures/invalid`` says what it expects on a ``# expect: PATH | FRAGMENT`` line and marks
the offending line with ``# <-- here``; the error must name the file, that line, the path and the fragment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kern.agent import Agent
from kern.db.in_memory import InMemoryDb
from kern.exceptions import UsageError, WorkflowDefinitionError
from kern.models.litellm import LiteLLM
from kern.workflow import Condition, Loop, Parallel, Router, Step, Steps, Workflow
from kern.workflow.yaml import load_workflow, load_workflow_text
from tests.workflow import yaml_targets

FIXTURES = Path(__file__).with_name("fixtures")
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
ALL_KINDS = FIXTURES / "valid" / "all_kinds.yaml"


def expectation(fixture: Path) -> tuple[int, str, str]:
    """The marked line (1-based), the YAML path and the message fragment a fixture expects."""
    lines = fixture.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if text.rstrip().endswith("# <-- here"))
    expect = next(text for text in lines if text.startswith("# expect:"))
    path, fragment = (part.strip() for part in expect.removeprefix("# expect:").split("|", 1))
    return line, path, fragment


def definition_error(fixture: Path) -> str:
    """The message of the one error loading ``fixture`` raises."""
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_workflow(fixture)
    return str(caught.value)


@pytest.fixture(scope="module")
def all_kinds() -> Workflow:
    """The fixture with every step kind, loaded."""
    return load_workflow(ALL_KINDS)


def step(workflow: Workflow, name: str) -> object:
    """The top-level step called ``name``."""
    return next(node for node in workflow.nodes if node.name == name)


# --- invalid files ------------------------------------------------------------------------------------


def test_the_fixture_directory_covers_each_kind_of_mistake() -> None:
    """The invalid fixtures include an unknown kind, a missing field, a bad import, a wrong type, bad YAML."""
    names = {fixture.stem for fixture in INVALID}
    assert {"unknown_step_kind", "missing_step_name", "missing_steps", "bad_import_path"} <= names
    assert {"wrong_type", "syntax_error", "two_kinds"} <= names
    assert {"billion_laughs", "deep_nesting", "recursive_alias"} <= names  # files beyond the bounds


@pytest.mark.parametrize("fixture", INVALID, ids=[fixture.stem for fixture in INVALID])
def test_invalid_file_names_the_file_and_the_line(fixture: Path) -> None:
    """The error starts with ``file:line:column`` of the marked line."""
    line, _, _ = expectation(fixture)
    message = definition_error(fixture)
    assert message.startswith(f"{fixture}:{line}:"), message


@pytest.mark.parametrize("fixture", INVALID, ids=[fixture.stem for fixture in INVALID])
def test_invalid_file_names_the_yaml_path_and_the_mistake(fixture: Path) -> None:
    """After the position come the YAML path (when there is one) and what is wrong, on one line."""
    line, path, fragment = expectation(fixture)
    message = definition_error(fixture)
    after_position = message.removeprefix(f"{fixture}:{line}:").split(": ", 1)[1]
    assert after_position.startswith(f"{path}: " if path else fragment[:10]), message
    assert fragment in message
    assert "\n" not in message


def test_definition_error_is_a_usage_error() -> None:
    """A WorkflowDefinitionError is caught by ``except UsageError`` like any misuse."""
    with pytest.raises(UsageError):
        load_workflow_text("name: x\nsteps: []\n")


def test_text_errors_name_the_given_filename() -> None:
    """``load_workflow_text`` names the filename it is given."""
    with pytest.raises(WorkflowDefinitionError, match=r"^flows/x\.yaml:2:8: steps: must not be empty$"):
        load_workflow_text("name: x\nsteps: []\n", "flows/x.yaml")


def test_an_unreadable_file_is_a_definition_error(tmp_path: Path) -> None:
    """A file that does not exist is reported with its path, not as a bare OSError."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(WorkflowDefinitionError, match="cannot read the workflow file"):
        load_workflow(missing)


def test_an_empty_file_is_a_definition_error() -> None:
    """An empty file says a workflow needs name and steps."""
    with pytest.raises(WorkflowDefinitionError, match=r"^empty\.yaml:1:1: the file is empty"):
        load_workflow_text("# nothing yet\n", "empty.yaml")


def test_python_tags_are_refused() -> None:
    """The file is read with safe-load semantics: a python/object tag is an error, never a call."""
    text = "name: x\nsteps: !!python/object/apply:os.system [echo hi]\n"
    with pytest.raises(WorkflowDefinitionError, match=r"^t\.yaml:2:8: invalid YAML: could not determine"):
        load_workflow_text(text, "t.yaml")


def test_a_top_level_list_is_refused() -> None:
    """A file whose document is not a mapping says what a workflow file is."""
    with pytest.raises(WorkflowDefinitionError, match=r"a workflow file is a mapping with .*, got a list"):
        load_workflow_text("- name: x\n")


def test_an_import_path_without_a_colon_is_refused() -> None:
    """``executor: module.fn`` (a dot for the colon) says what an import path looks like."""
    text = "name: x\nsteps:\n  - name: a\n    executor: tests.workflow.yaml_targets.fetch\n"
    with pytest.raises(WorkflowDefinitionError, match="expected an import path 'module:attr'"):
        load_workflow_text(text)


def test_a_reference_that_is_not_an_agent_is_refused() -> None:
    """``agent: module:attr`` naming a function says it is not an Agent."""
    text = "name: x\nsteps:\n  - name: a\n    agent: tests.workflow.yaml_targets:fetch\n"
    with pytest.raises(WorkflowDefinitionError, match=r"steps\[0\]\.agent: .* is a function, not an Agent"):
        load_workflow_text(text)


# --- valid files: each step kind ----------------------------------------------------------------------


def test_function_step_keeps_its_error_policy(all_kinds: Workflow) -> None:
    """``executor`` is the imported function; on_error, retries and retry_delay are the Step's."""
    assert step(all_kinds, "fetch") == Step(
        name="fetch", executor=yaml_targets.fetch, on_error="continue", retries=2, retry_delay=0.5
    )


def test_named_agent_is_built_once_and_shared(all_kinds: Workflow) -> None:
    """Two steps naming ``writer`` get the same Agent, named after its key, with its model and tools."""
    write, rewrite = step(all_kinds, "write"), step(all_kinds, "rewrite")
    assert isinstance(write, Step)
    assert isinstance(rewrite, Step)
    assert write.agent is rewrite.agent
    agent = write.agent
    assert agent is not None
    assert agent.name == "writer"
    assert isinstance(agent.model, LiteLLM)
    assert agent.model.id == "openai/gpt-4o-mini"
    assert agent.instructions == "Write it short."
    assert set(agent.toolbox.functions) == {"lookup"}


def test_model_mapping_sets_the_server_and_settings(all_kinds: Workflow) -> None:
    """``model: {id, api_base, timeout, settings}`` builds that LiteLLM; list instructions stay a list."""
    condition = step(all_kinds, "check")
    assert isinstance(condition, Condition)
    [critique] = condition.steps
    assert isinstance(critique, Step)
    assert critique.agent is not None
    model = critique.agent.model
    assert isinstance(model, LiteLLM)
    assert (model.id, model.api_base, model.timeout) == ("openai/gpt-4o-mini", "http://127.0.0.1:9/v1", 30)
    assert dict(model.settings) == {"temperature": 0}
    assert critique.agent.name == "Critic"
    assert critique.agent.instructions == ["Be fair.", "Be brief."]


def test_inline_agent_is_named_after_its_step(all_kinds: Workflow) -> None:
    """An agent defined in the step itself takes the step's name."""
    draft = step(all_kinds, "draft")
    assert isinstance(draft, Step)
    assert draft.agent is not None
    assert draft.agent.name == "draft"
    assert isinstance(draft.agent.model, LiteLLM)
    assert draft.agent.model.id == "openai/gpt-4o"


def test_agent_and_team_references_are_the_objects_themselves(all_kinds: Workflow) -> None:
    """``agent: module:attr`` and ``team: module:attr`` use the imported objects."""
    help_step, review = step(all_kinds, "help"), step(all_kinds, "review")
    assert isinstance(help_step, Step)
    assert help_step.agent is yaml_targets.helper_agent
    assert isinstance(review, Step)
    assert review.team is yaml_targets.helper_team


def test_parallel_holds_its_branches(all_kinds: Workflow) -> None:
    """``parallel:`` lists the branches; an attribute chain (``module:obj.attr``) resolves."""
    both = step(all_kinds, "both")
    assert isinstance(both, Parallel)
    assert [(branch.name, getattr(branch, "executor", None)) for branch in both.steps] == [
        ("left", yaml_targets.shout),
        ("right", yaml_targets.holder.fn),
    ]


def test_condition_takes_a_function_or_a_constant(all_kinds: Workflow) -> None:
    """``condition:`` is an imported function, or true/false as it is."""
    check, skipped = step(all_kinds, "check"), step(all_kinds, "skip-me")
    assert isinstance(check, Condition)
    assert check.evaluator is yaml_targets.always
    assert isinstance(skipped, Condition)
    assert skipped.evaluator is False


def test_loop_takes_its_options(all_kinds: Workflow) -> None:
    """``loop: {end_condition, max_iterations}`` sets the Loop's."""
    refine = step(all_kinds, "refine")
    assert isinstance(refine, Loop)
    assert (refine.end_condition, refine.max_iterations) == (yaml_targets.never, 2)
    assert [child.name for child in refine.steps] == ["again"]


def test_loop_options_may_be_empty() -> None:
    """``loop:`` with nothing after it is a loop with the defaults."""
    text = """
name: x
steps:
  - name: again
    loop:
    steps: [{name: a, executor: "tests.workflow.yaml_targets:shout"}]
"""
    [loop] = load_workflow_text(text).nodes
    assert isinstance(loop, Loop)
    assert (loop.end_condition, loop.max_iterations) == (None, 3)


def test_router_holds_its_choices(all_kinds: Workflow) -> None:
    """``router:`` is the selector and ``choices:`` the steps it picks from."""
    pick = step(all_kinds, "pick")
    assert isinstance(pick, Router)
    assert pick.selector is yaml_targets.pick_first
    assert [choice.name for choice in pick.choices] == ["first", "second"]


def test_a_step_with_only_steps_is_a_group(all_kinds: Workflow) -> None:
    """A step with a name, a description and ``steps:`` is a Steps group."""
    group = step(all_kinds, "group")
    assert isinstance(group, Steps)
    assert (group.description, [child.name for child in group.steps]) == ("two in a row", ["one", "two"])


# --- valid files: the workflow ------------------------------------------------------------------------


def test_workflow_takes_name_description_and_initial_state(all_kinds: Workflow) -> None:
    """name, description and session_state are the Workflow's; its id is derived from the name."""
    assert (all_kinds.name, all_kinds.description) == ("All Kinds", "every step kind at least once")
    assert all_kinds.session_state == {"items": [], "owner": "ava"}
    assert all_kinds.component_id == "all-kinds"


def test_workflow_records_the_files_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``source`` is the absolute path of the file, even when it was loaded by a relative one."""
    monkeypatch.chdir(ALL_KINDS.parent)
    assert load_workflow("all_kinds.yaml").source == str(ALL_KINDS.resolve())


def test_text_has_no_source_and_takes_the_db() -> None:
    """``load_workflow_text`` builds a workflow without a source, storing in the db it is given."""
    db = InMemoryDb()
    workflow = load_workflow_text((FIXTURES / "valid" / "functions_only.yaml").read_text(), db=db)
    assert (workflow.source, workflow.db) == (None, db)


def test_agent_without_model_gets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent whose model is omitted uses the Agent default, LiteLLM($KERN_MODEL)."""
    monkeypatch.setenv("KERN_MODEL", "anthropic/claude-test")
    text = "name: x\nsteps:\n  - name: w\n    agent: {instructions: hi}\n"
    [write] = load_workflow_text(text).nodes
    assert isinstance(write, Step)
    assert isinstance(write.agent, Agent)
    model = write.agent.resolved_model
    assert isinstance(model, LiteLLM)
    assert model.id == "anthropic/claude-test"


@pytest.mark.anyio
async def test_yaml_workflow_runs_from_its_initial_state() -> None:
    """A loaded workflow runs: a new session starts from the file's session_state, steps hand on outputs."""
    workflow = load_workflow(FIXTURES / "valid" / "functions_only.yaml", db=InMemoryDb())
    output = await workflow.arun("news")
    assert output.content == "FETCHED NEWS"
    assert output.session_state["items"] == ["seed", "news"]


# --- files from anyone: aliases and nesting within bounds ---------------------------------------------

ONE_STEP = "steps: [{name: a, executor: 'tests.workflow.yaml_targets:shout'}]"


def test_a_billion_laughs_is_refused_at_the_alias_that_expands_it_too_far() -> None:
    """Nine levels of ten aliases (10**9 values) are refused at the alias, naming file:line:col and path."""
    fixture = FIXTURES / "invalid" / "billion_laughs.yaml"
    message = definition_error(fixture)
    assert message.startswith(f"{fixture}:9:22: session_state.e[3]: the alias *d expands the file past "), (
        message
    )
    assert "billion laughs" in message


def test_an_alias_bomb_of_few_aliases_is_refused_too() -> None:
    """Twenty levels of two aliases (forty in all, 2**20 values) are measured as what they expand to."""
    levels = [f"  l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 21)]
    text = "\n".join(["name: x", "session_state:", "  l0: &l0 [lol]", *levels, ONE_STEP])
    with pytest.raises(
        WorkflowDefinitionError,
        match=r"^b\.yaml:\d+:\d+: session_state\.l\d+\[[01]\]: the alias \*l\d+ expands the file past",
    ):
        load_workflow_text(text, "b.yaml")


def test_a_recursive_alias_is_refused() -> None:
    """An alias inside the node it names (a structure holding itself) is an error at the alias."""
    with pytest.raises(
        WorkflowDefinitionError, match=r"^r\.yaml:2:26: session_state\.me\[0\]: the alias \*me"
    ):
        load_workflow_text(f"name: x\nsession_state: {{me: &me [*me]}}\n{ONE_STEP}\n", "r.yaml")


def test_mappings_nested_1000_deep_are_refused_not_a_recursion_error() -> None:
    """1000 nested mappings give the depth error at the 65th level, not a RecursionError."""
    text = "name: x\nsession_state: " + "{a: " * 1000 + "1" + "}" * 1000 + f"\n{ONE_STEP}\n"
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_workflow_text(text, "deep.yaml")
    path = "session_state" + ".a" * 63
    assert str(caught.value) == (
        f"deep.yaml:2:{16 + 4 * 63}: {path}: lists and mappings are nested more than 64 levels deep; "
        "a workflow file is refused beyond that"
    )


def test_aliases_cannot_nest_a_file_past_the_depth_limit() -> None:
    """A chain of aliases each one level deeper than the last is measured expanded, so it is refused too."""
    chain = [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, 80)]
    text = "\n".join(["name: x", "session_state:", "  a0: &a0 [1]", *chain, ONE_STEP])
    with pytest.raises(
        WorkflowDefinitionError, match=r"^c\.yaml:65:14: session_state\.a62\[0\]: the alias \*a61"
    ):
        load_workflow_text(text, "c.yaml")


def test_a_file_with_a_few_aliases_loads() -> None:
    """Aliases used as people use them (a shared value, a ``<<`` merge) load as before."""
    workflow = load_workflow(FIXTURES / "valid" / "aliases.yaml")
    assert workflow.session_state == {"owner": "ava", "reviewers": ["ava", "bo"]}
    fetch, again, _ = workflow.nodes
    assert again == Step(name="fetch-again", executor=yaml_targets.fetch, retries=2, retry_delay=0.25)
    assert fetch == Step(name="fetch", executor=yaml_targets.fetch, retries=2, retry_delay=0.25)


# --- numbers as YAML users write them -----------------------------------------------------------------


def delay_step(value: str) -> str:
    """A file with one function step whose ``retry_delay`` is ``value`` as written."""
    step = "  - name: a\n    executor: tests.workflow.yaml_targets:shout\n"
    return f"name: x\nsteps:\n{step}    retry_delay: {value}\n"


@pytest.mark.parametrize(
    ("written", "value"),
    [("1e3", 1e3), ("1.0e308", 1.0e308), ("6.02E23", 6.02e23), (".5", 0.5), ("2.5e-3", 2.5e-3)],
)
def test_a_duration_takes_floats_as_yaml_writes_them(written: str, value: float) -> None:
    """``retry_delay: 1e3`` (YAML 1.2 floats: no dot, no exponent sign) is a number, not a string."""
    [fetch] = load_workflow_text(delay_step(written)).nodes
    assert isinstance(fetch, Step)
    assert fetch.retry_delay == value


def test_the_file_reads_floats_as_yaml_1_2_writes_them_everywhere() -> None:
    """In the session state too: 1e3, -1.5e-3, -.5 are floats; integers stay integers, quoted text text."""
    text = f'name: x\nsession_state: {{v: [1e3, -1.5e-3, -.5, +.5, 6.02E23, 12, 0x1f, "1e3"]}}\n{ONE_STEP}'
    assert load_workflow_text(text).session_state == {"v": [1e3, -1.5e-3, -0.5, 0.5, 6.02e23, 12, 31, "1e3"]}


@pytest.mark.parametrize("written", ["fast", '"1e3"', "1e", "1.2.3", "[1]"])
def test_a_duration_still_refuses_what_is_not_a_number(written: str) -> None:
    """Text that is not a number (a quoted float included) is still 'expected a number'."""
    with pytest.raises(
        WorkflowDefinitionError, match=r"^f\.yaml:5:18: steps\[0\]\.retry_delay: expected a number"
    ):
        load_workflow_text(delay_step(written), "f.yaml")


@pytest.mark.parametrize("written", [".inf", "-.inf", ".nan", "1e400"])
def test_a_duration_refuses_infinity_and_nan(written: str) -> None:
    """``.inf``, ``.nan`` and a float too large to be finite are refused for a duration."""
    with pytest.raises(
        WorkflowDefinitionError, match=r"retry_delay: expected a finite number, got (-?inf|nan)$"
    ):
        load_workflow_text(delay_step(written), "f.yaml")


def test_a_model_timeout_refuses_infinity() -> None:
    """The model's ``timeout`` is a duration too."""
    text = "name: x\nsteps:\n  - name: w\n    agent: {model: {id: m, timeout: .inf}}\n"
    with pytest.raises(
        WorkflowDefinitionError, match=r"steps\[0\]\.agent\.model\.timeout: expected a finite number"
    ):
        load_workflow_text(text)


# --- names: optional on steps that hold steps ---------------------------------------------------------


def test_steps_that_hold_steps_may_leave_out_their_names() -> None:
    """condition, loop, router, parallel and a group without ``name:`` are named after their kind."""
    workflow = load_workflow(FIXTURES / "valid" / "unnamed_composites.yaml")
    assert [node.name for node in workflow.nodes] == [
        "condition",
        "loop",
        "loop_2",
        "parallel",
        "steps",
        "router",
    ]


def test_an_unnamed_step_does_not_clash_with_a_named_one() -> None:
    """A sibling named like a kind keeps that name; the unnamed one of that kind is numbered around it."""
    text = """
name: x
steps:
  - loop:
    steps: [{name: a, executor: "tests.workflow.yaml_targets:shout"}]
  - name: loop
    executor: tests.workflow.yaml_targets:shout
"""
    assert [node.name for node in load_workflow_text(text).nodes] == ["loop_2", "loop"]


@pytest.mark.anyio
async def test_an_unnamed_yaml_workflow_resumes_from_the_file_loaded_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run failed in an unnamed router resumes in the file loaded anew; completed steps do not rerun."""
    fixture, db = FIXTURES / "valid" / "unnamed_composites.yaml", InMemoryDb()
    first = load_workflow(fixture, db=db)
    monkeypatch.setenv(yaml_targets.FAIL_VARIABLE, "1")
    with pytest.raises(RuntimeError, match="the source is down"):
        await first.arun("news")
    monkeypatch.delenv(yaml_targets.FAIL_VARIABLE)
    [run] = [r for r in await first.store.get_runs(first.default_session_id) if r.parent_run_id is None]
    output = await load_workflow(fixture, db=db).aresume(run.run_id)
    assert output.content == "fetched news"
    # the steps before the router ran once: 1 + 2 + 3 + 1 + 1 shouts (a failed step's writes are undone)
    assert output.session_state["calls"] == {"shout": 8, "fetch": 1}
