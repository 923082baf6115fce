"""Workflows defined in YAML files, built into the same objects as Python ones.

A file (``workflows/*.yaml``) holds one mapping::

    name: research                      # required; the workflow's id is derived from it unless id: is given
    description: Answer from the docs   # optional
    session_state: {notes: []}          # optional: the state a new session starts with
    agents:                             # optional: agents steps refer to by name
      writer:
        model: openai/gpt-4o-mini       # a litellm model id (LiteLLM), or {id:, api_base:, api_key:,
                                        #   timeout:, settings: {temperature: 0}}; omitted: the default
                                        #   model (LiteLLM($KERN_MODEL) when set)
        instructions: Write it short.   # a string or a list of strings
        tools: [package.module:function]  # import paths of functions, @tool Functions or Toolkits
        name: Writer                    # default: the key (writer)
        # also: id, description, markdown, add_session_state_to_context, enable_agentic_state,
        #       add_history_to_context, num_history_runs, tool_call_limit
    steps:                              # required, at least one
      - name: fetch                     # a step has a name (unique among its siblings) and may have
        executor: package.module:fn     #   a description; this one runs a function
        on_error: skip                  # fail (default) | skip | continue; also retries:, retry_delay:
                                        #   (seconds: a finite number, 1e-3 and .5 included)
      - name: write
        agent: writer                   # a name under agents:, an inline mapping like an agents: entry,
                                        #   or an import path module:attr naming an Agent object
      - name: review
        team: package.module:team       # a Team object, by import path
      - name: both                      # optional on a step that holds steps (see below)
        parallel: [...steps...]         # branches run at the same time
      - name: check
        condition: package.module:fn    # or true / false
        steps: [...steps...]
      - name: refine
        loop: {end_condition: package.module:fn, max_iterations: 3}   # both optional
        steps: [...steps...]
      - name: pick
        router: package.module:selector
        choices: [...steps...]
      - name: group
        steps: [...steps...]            # a step with only name (description) and steps: a group

A step has exactly one kind key (executor, agent, team, parallel, condition, loop, router; or none and
``steps``: a group). A step that runs one thing (executor, agent, team) must have a name; one that holds
steps may leave it out and is named after its kind (``parallel``, ``condition``, ``loop``, ``router``,
``steps``), numbered among its siblings (``loop_2``) as :class:`~kern.workflow.Condition` and the
others name themselves in Python.

Import paths are ``module:attr`` (``module:obj.attr`` for a chain), imported when the file is loaded,
so they must be importable from the process (``kern workflow`` puts the current directory on
``sys.path``). The file is read with safe-load semantics (plain data, no Python tags), floats as YAML
1.2 writes them (``1e3``, ``.5``), and within bounds: a file whose aliases expand it past 50000 values,
or that nests lists and mappings more than 64 levels deep, is refused (kern.workflow._yaml_errors).

Any mistake raises one :class:`~kern.exceptions.WorkflowDefinitionError` naming the file, the line and
column, the YAML path and what is wrong: ``workflows/x.yaml:12:5: steps[2].parallel[0].executor:
cannot import 'pkg.mod:fn' (no module named 'pkg')``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kern.agent import Agent
from kern.db.base import BaseDb
from kern.exceptions import UsageError, WorkflowDefinitionError
from kern.models.base import Model
from kern.models.litellm import LiteLLM
from kern.workflow._yaml_errors import Loc, Located, Refused, compose, duplicate_key, syntax_error
from kern.workflow._yaml_schema import (
    AgentSpec,
    AgentStep,
    ConditionStep,
    FunctionStep,
    GroupStep,
    LoopStep,
    ModelSpec,
    ParallelStep,
    RouterStep,
    TeamStep,
    WorkflowSpec,
    shown,
)
from kern.workflow.composite import Condition, Loop, Node, Parallel, Router, Steps
from kern.workflow.step import Step
from kern.workflow.workflow import Workflow

__all__ = ["load_workflow", "load_workflow_text"]


def load_workflow(path: str | os.PathLike[str], *, db: BaseDb | None = None) -> Workflow:
    """The workflow the YAML file at ``path`` defines, storing its runs in ``db``.

    Its ``source`` is the file's absolute path, which ``kern workflow resume`` compares with the file
    it is given.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WorkflowDefinitionError(f"{path}: cannot read the workflow file ({reason})") from exc
    return load_workflow_text(text, str(path), db=db, source=str(file.resolve()))


def load_workflow_text(
    text: str, filename: str = "<string>", db: BaseDb | None = None, *, source: str | None = None
) -> Workflow:
    """The workflow the YAML ``text`` defines; errors name ``filename``."""
    try:  # the nodes, for the positions of errors, and the data, as safe_load reads it
        root, data = compose(text)
    except Refused as exc:
        raise exc.error(filename) from None
    except yaml.YAMLError as exc:
        raise syntax_error(filename, exc) from None
    if root is None:
        raise WorkflowDefinitionError(f"{filename}:1:1: the file is empty; a workflow needs name and steps")
    located = Located(filename, root)
    if (duplicate := duplicate_key(root)) is not None:
        raise located.duplicate(*duplicate)
    if not isinstance(data, dict):
        raise located.error((), f"a workflow file is a mapping with name and steps, got {shown(data)}")
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        raise located.validation_error(exc) from None
    return _Builder(spec, located).workflow(db, source)


class _Builder:
    """Builds the Workflow a validated file describes; what only the whole file can check, it checks."""

    def __init__(self, spec: WorkflowSpec, located: Located) -> None:
        self.spec = spec
        self.located = located
        self.agents: dict[str, Agent] = {}

    def workflow(self, db: BaseDb | None, source: str | None) -> Workflow:
        for name, agent in self.spec.agents.items():  # every one, so an unused agent's mistakes show too
            self.agents[name] = self.agent(agent, ("agents", name), default_name=name)
        steps = self.nodes(self.spec.steps, ("steps",))
        try:
            return Workflow(
                name=self.spec.name,
                id=self.spec.id,
                description=self.spec.description,
                steps=steps,
                db=db,
                session_state=self.spec.session_state,
                source=source,
            )
        except UsageError as exc:
            raise self.located.error((), str(exc)) from None

    def nodes(self, steps: Sequence[Any], loc: Loc) -> list[Node]:
        seen: dict[str, int] = {}
        for i, step in enumerate(steps):
            if step.name is None:  # named after its kind by the composite, numbered by its parent
                continue
            if step.name in seen:
                raise self.located.error(
                    (*loc, i, "name"),
                    f"two sibling steps are named {step.name!r} (the other is [{seen[step.name]}]); "
                    "sibling names must differ",
                )
            seen[step.name] = i
        return [self.node(step, (*loc, i)) for i, step in enumerate(steps)]

    def node(self, step: Any, loc: Loc) -> Node:
        try:
            return self._node(step, loc)
        except WorkflowDefinitionError:
            raise
        except UsageError as exc:
            raise self.located.error(loc, str(exc)) from None

    def _node(self, step: Any, loc: Loc) -> Node:
        name, description = step.name, step.description
        match step:
            case FunctionStep() | AgentStep() | TeamStep():
                kind: dict[str, Any] = {}
                if isinstance(step, FunctionStep):
                    kind["executor"] = step.executor
                elif isinstance(step, AgentStep):
                    kind["agent"] = self.step_agent(step.agent, (*loc, "agent"), default_name=name)
                else:
                    kind["team"] = step.team
                return Step(
                    name=name,
                    description=description,
                    on_error=step.on_error,
                    retries=step.retries,
                    retry_delay=step.retry_delay,
                    **kind,
                )
            case ParallelStep():
                branches = self.nodes(step.parallel, (*loc, "parallel"))
                return Parallel(*branches, name=name, description=description)
            case ConditionStep():
                steps = self.nodes(step.steps, (*loc, "steps"))
                return Condition(name=name, evaluator=step.condition, steps=steps, description=description)
            case LoopStep():
                return Loop(
                    name=name,
                    steps=self.nodes(step.steps, (*loc, "steps")),
                    end_condition=step.loop.end_condition,
                    max_iterations=step.loop.max_iterations,
                    description=description,
                )
            case RouterStep():
                choices = self.nodes(step.choices, (*loc, "choices"))
                return Router(name=name, selector=step.router, choices=choices, description=description)
            case GroupStep():
                steps = self.nodes(step.steps, (*loc, "steps"))
                return Steps(name=name, steps=steps, description=description)
            case _:
                raise AssertionError(f"a validated step of no known kind: {step!r}")

    def step_agent(self, value: AgentSpec | Agent | str, loc: Loc, *, default_name: str) -> Agent:
        """A step's agent: an object already, a name under ``agents:``, or defined inline."""
        if isinstance(value, Agent):
            return value
        if isinstance(value, str):
            if value not in self.agents:
                defined = ", ".join(repr(name) for name in self.agents) or "none"
                raise self.located.error(loc, f"no agent named {value!r} under agents: (defined: {defined})")
            return self.agents[value]
        return self.agent(value, loc, default_name=default_name)

    def agent(self, spec: AgentSpec, loc: Loc, *, default_name: str) -> Agent:
        model = self.model(spec.model, (*loc, "model")) if spec.model is not None else None
        try:
            return Agent(
                name=spec.name or default_name,
                id=spec.id,
                model=model,
                instructions=spec.instructions,
                description=spec.description,
                tools=spec.tools,
                markdown=spec.markdown,
                add_session_state_to_context=spec.add_session_state_to_context,
                enable_agentic_state=spec.enable_agentic_state,
                add_history_to_context=spec.add_history_to_context,
                num_history_runs=spec.num_history_runs,
                tool_call_limit=spec.tool_call_limit,
            )
        except UsageError as exc:
            raise self.located.error(loc, str(exc)) from None

    def model(self, spec: ModelSpec, loc: Loc) -> Model:
        try:
            return LiteLLM(
                spec.id, api_base=spec.api_base, api_key=spec.api_key, timeout=spec.timeout, **spec.settings
            )
        except UsageError as exc:
            raise self.located.error(loc, str(exc)) from None
