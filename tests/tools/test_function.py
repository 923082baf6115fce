"""Tests for kern.tools.function: calling tools with the model's arguments and the runtime's injections."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from kern.exceptions import ToolCallError, UsageError
from kern.session.context import RunContext
from kern.tools import Function, Injected, Toolkit, resolve_tools, tool
from kern.tools.function import INJECTED_PARAMETERS

pytestmark = pytest.mark.anyio


def make_context(state: dict[str, Any] | None = None, **dependencies: Any) -> RunContext:
    return RunContext(
        run_id="run-1",
        session_id="session-1",
        user_id=None,
        session_state={} if state is None else state,
        dependencies=dependencies,
    )


def injected(state: dict[str, Any] | None = None, **dependencies: Any) -> Injected:
    return Injected(run_context=make_context(state, **dependencies))


class Point(BaseModel):
    x: int
    y: int


def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


# --- calling ------------------------------------------------------------------------------------------------


async def test_sync_tool_returns_its_value() -> None:
    """A sync tool is called with the validated arguments and its return value comes back as is."""
    assert await Function.from_callable(add).execute('{"a": 2, "b": 3}', injected()) == 5


async def test_async_tool_is_awaited() -> None:
    """An async tool is awaited: the result is its value, not a coroutine."""

    async def double(n: int) -> int:
        return n * 2

    assert await Function.from_callable(double).execute('{"n": 21}', injected()) == 42


async def test_sync_tool_runs_in_a_worker_thread() -> None:
    """A sync tool runs off the event loop's thread."""

    def where() -> int:
        return threading.get_ident()

    assert await Function.from_callable(where).execute("", injected()) != threading.get_ident()


async def test_async_tool_runs_on_the_event_loop_thread() -> None:
    """An async tool runs in the event loop's own thread."""

    async def where() -> int:
        return threading.get_ident()

    assert await Function.from_callable(where).execute("", injected()) == threading.get_ident()


async def test_bound_method_tool() -> None:
    """A bound method is a tool without ``self`` in its arguments."""

    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def bump(self, by: int) -> int:
            self.total += by
            return self.total

    counter = Counter()
    function = Function.from_callable(counter.bump)
    assert list(function.parameters["properties"]) == ["by"]
    assert await function.execute('{"by": 4}', injected()) == 4


async def test_async_callable_object_is_awaited() -> None:
    """An object with an async ``__call__`` is detected as async and awaited."""

    class Greeter:
        __name__ = "greet"

        async def __call__(self, name: str) -> str:
            return f"hi {name}"

    assert await Function.from_callable(Greeter()).execute('{"name": "ann"}', injected()) == "hi ann"


async def test_partial_with_a_name() -> None:
    """A functools.partial is a tool of its remaining parameters once given a name."""

    def scale(factor: int, x: float) -> float:
        return factor * x

    triple = Function.from_callable(functools.partial(scale, 3), name="triple")
    assert list(triple.parameters["properties"]) == ["x"]
    assert await triple.execute('{"x": 2}', injected()) == 6


def test_partial_without_a_name_rejected() -> None:
    """A partial has no __name__: UsageError asks for ``name=``."""
    with pytest.raises(UsageError, match=r"no __name__; give the tool a name \(name=...\)"):
        Function.from_callable(functools.partial(add, 1))


async def test_defaults_fill_missing_optional_arguments() -> None:
    """An argument the model leaves out takes the parameter's default."""
    assert await Function.from_callable(add).execute('{"a": 2}', injected()) == 3


async def test_empty_arguments_for_a_tool_without_parameters() -> None:
    """Empty or blank argument text means no arguments."""

    def ping() -> str:
        return "pong"

    function = Function.from_callable(ping)
    assert await function.execute("", injected()) == "pong"
    assert await function.execute("  \n", injected()) == "pong"


async def test_numeric_string_is_coerced_for_int() -> None:
    """Validation is pydantic's lax mode: ``"3"`` for an ``int`` parameter is accepted as 3."""
    assert await Function.from_callable(add).execute('{"a": "3", "b": 4}', injected()) == 7


async def test_nested_model_argument_is_an_instance() -> None:
    """A pydantic-model parameter receives a model instance, not a dict."""

    def norm1(p: Point) -> int:
        assert isinstance(p, Point)
        return abs(p.x) + abs(p.y)

    assert await Function.from_callable(norm1).execute('{"p": {"x": 3, "y": -4}}', injected()) == 7


async def test_tool_exception_propagates_unchanged() -> None:
    """What the tool raises reaches the caller as the very same exception object."""
    error = LookupError("no such item")

    def fail() -> None:
        raise error

    with pytest.raises(LookupError) as caught:
        await Function.from_callable(fail).execute("{}", injected())
    assert caught.value is error


async def test_async_tool_exception_propagates_unchanged() -> None:
    """An async tool's exception is not wrapped either."""
    error = RuntimeError("boom")

    async def fail() -> None:
        raise error

    with pytest.raises(RuntimeError) as caught:
        await Function.from_callable(fail).execute("{}", injected())
    assert caught.value is error


# --- injection ----------------------------------------------------------------------------------------------


async def test_session_state_is_the_live_dict() -> None:
    """``session_state`` receives the RunContext's dict itself, not a copy."""
    seen: list[dict[str, Any]] = []

    def grab(session_state: dict[str, Any]) -> None:
        seen.append(session_state)

    injection = injected({"tasks": []})
    await Function.from_callable(grab).execute("", injection)
    assert seen[0] is injection.run_context.session_state


async def test_session_state_mutations_are_visible_in_the_run_context() -> None:
    """A sync tool's change to ``session_state``, made in a worker thread, is in the RunContext afterwards."""

    def add_task(session_state: dict[str, Any], title: str) -> str:
        session_state["tasks"].append(title)
        del session_state["scratch"]
        return "added"

    injection = injected({"tasks": [], "scratch": 1})
    await Function.from_callable(add_task).execute('{"title": "review"}', injection)
    assert injection.run_context.session_state == {"tasks": ["review"]}


async def test_run_context_by_name() -> None:
    """A parameter named ``run_context`` receives the RunContext."""

    def add_item(run_context: RunContext, item: str) -> None:
        run_context.session_state["shopping_list"].append(item)

    injection = injected({"shopping_list": []})
    await Function.from_callable(add_item).execute('{"item": "milk"}', injection)
    assert injection.run_context.session_state["shopping_list"] == ["milk"]


async def test_run_context_by_annotation() -> None:
    """A parameter of any name annotated ``RunContext`` receives the RunContext."""

    async def which(ctx: RunContext) -> RunContext:
        return ctx

    injection = injected()
    assert await Function.from_callable(which).execute("", injection) is injection.run_context


async def test_dependencies_injected() -> None:
    """``dependencies`` receives the RunContext's dependencies dict."""

    def tenant(dependencies: dict[str, Any]) -> str:
        return dependencies["tenant"]

    assert await Function.from_callable(tenant).execute("", injected(tenant="acme")) == "acme"


async def test_agent_and_team_injected() -> None:
    """``agent`` and ``team`` receive the objects given in Injected."""
    agent, team = object(), object()

    def members(agent: object, team: object) -> tuple[object, object]:
        return agent, team

    injection = Injected(run_context=make_context(), agent=agent, team=team)
    assert await Function.from_callable(members).execute("", injection) == (agent, team)


def test_takes_state_for_session_state_and_run_context() -> None:
    """``takes_state`` is true for tools taking session_state or a RunContext, false otherwise."""

    def by_state(session_state: dict[str, Any]) -> None: ...

    def by_annotation(ctx: RunContext) -> None: ...

    def by_dependencies(dependencies: dict[str, Any]) -> None: ...

    assert Function.from_callable(by_state).takes_state
    assert Function.from_callable(by_annotation).takes_state
    assert not Function.from_callable(by_dependencies).takes_state
    assert not Function.from_callable(add).takes_state


def test_injected_parameter_names() -> None:
    """The names injected by name are exactly the five the runtime provides."""
    assert frozenset({"session_state", "run_context", "agent", "team", "dependencies"}) == INJECTED_PARAMETERS


# --- bad arguments from the model ---------------------------------------------------------------------------


async def test_unparseable_json_names_tool_and_position() -> None:
    """Arguments that are not JSON raise ToolCallError naming the tool and the parser's complaint."""
    with pytest.raises(
        ToolCallError, match=r"arguments for tool 'add' are not valid JSON: Expecting .*char 8"
    ):
        await Function.from_callable(add).execute('{"a": 1 "b": 2}', injected())


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "an array"), ('"a"', "a string"), ("3", "a number")])
async def test_non_object_arguments_rejected(text: str, kind: str) -> None:
    """JSON that is not an object raises ToolCallError saying what it was."""
    with pytest.raises(
        ToolCallError, match=f"tool 'add' must be a JSON object of named arguments, not {kind}"
    ):
        await Function.from_callable(add).execute(text, injected())


async def test_missing_field_named() -> None:
    """A missing required argument is named in the ToolCallError."""
    with pytest.raises(ToolCallError, match=r"invalid arguments for tool 'add':\n- a: required but missing"):
        await Function.from_callable(add).execute('{"b": 2}', injected())


async def test_wrong_type_named_with_the_value() -> None:
    """A value of the wrong type is reported with its argument, the problem and what was sent."""
    with pytest.raises(ToolCallError, match=r"- a: Input should be a valid integer.*\(got 'lots'\)"):
        await Function.from_callable(add).execute('{"a": "lots"}', injected())


async def test_extra_field_named_with_the_known_arguments() -> None:
    """An argument the tool does not take is reported, listing the arguments it does take."""
    with pytest.raises(ToolCallError, match=r"- c: unknown argument \(this tool's arguments are: a, b\)"):
        await Function.from_callable(add).execute('{"a": 1, "c": 2}', injected())


async def test_every_problem_in_one_message() -> None:
    """Several problems are listed together, one per line, so the model can fix them in one go."""
    with pytest.raises(ToolCallError) as caught:
        await Function.from_callable(add).execute('{"b": "x", "z": 0}', injected())
    assert str(caught.value).splitlines()[1:] == [
        "- a: required but missing",
        "- b: Input should be a valid integer, unable to parse string as an integer (got 'x')",
        "- z: unknown argument (this tool's arguments are: a, b)",
    ]


async def test_nested_problem_has_its_path() -> None:
    """A problem inside a list argument names the element's path."""

    def total(prices: list[float]) -> float:
        return sum(prices)

    with pytest.raises(ToolCallError, match=r"- prices\[1\]: Input should be a valid number"):
        await Function.from_callable(total).execute('{"prices": [1.5, "abc"]}', injected())


async def test_supplied_injected_name_rejected() -> None:
    """The model cannot pass ``session_state``: ToolCallError says the runtime provides it."""

    def add_task(session_state: dict[str, Any], title: str) -> None: ...

    with pytest.raises(
        ToolCallError,
        match="tool 'add_task': 'session_state' is provided by the runtime and cannot be passed",
    ):
        await Function.from_callable(add_task).execute('{"title": "t", "session_state": {}}', injected())


async def test_supplied_injected_name_rejected_even_if_the_tool_does_not_take_it() -> None:
    """No tool accepts an injected name from the model, whether or not it takes that parameter."""
    with pytest.raises(ToolCallError, match="'dependencies' is provided by the runtime"):
        await Function.from_callable(add).execute('{"a": 1, "dependencies": {}}', injected())


async def test_supplied_run_context_parameter_rejected_under_its_own_name() -> None:
    """A RunContext-annotated parameter cannot be passed by the model under its custom name."""

    def f(ctx: RunContext) -> None: ...

    with pytest.raises(ToolCallError, match="'ctx' is provided by the runtime"):
        await Function.from_callable(f).execute('{"ctx": {}}', injected())


async def test_bad_arguments_do_not_call_the_tool() -> None:
    """When the arguments are refused the tool does not run."""
    calls: list[int] = []

    def record(n: int) -> None:
        calls.append(n)

    with pytest.raises(ToolCallError):
        await Function.from_callable(record).execute('{"n": "x"}', injected())
    assert calls == []


# --- @tool --------------------------------------------------------------------------------------------------


def test_bare_decorator_makes_a_function() -> None:
    """``@tool`` turns a function into a Function named after it, described by its docstring."""

    @tool
    def greet(name: str) -> str:
        """Say hello."""
        return f"hello {name}"

    assert isinstance(greet, Function)
    assert (greet.name, greet.description) == ("greet", "Say hello.")


def test_decorator_with_options() -> None:
    """``@tool(...)`` sets the name, description and flags."""

    @tool(name="say_hi", description="Greets.", show_result=True, stop_after_tool_call=True)
    def greet(name: str) -> str:
        return f"hello {name}"

    assert (greet.name, greet.description) == ("say_hi", "Greets.")
    assert (greet.show_result, greet.stop_after_tool_call, greet.requires_confirmation) == (True, True, False)


def test_requires_confirmation_flag() -> None:
    """``requires_confirmation`` is carried on the Function."""

    @tool(requires_confirmation=True)
    def delete_everything() -> None: ...

    assert delete_everything.requires_confirmation


def test_decorated_function_still_callable() -> None:
    """A ``@tool`` function can still be called directly in user code, injected parameters included."""

    @tool
    def add_task(session_state: dict[str, Any], title: str) -> str:
        session_state.setdefault("tasks", []).append(title)
        return "ok"

    state: dict[str, Any] = {}
    assert add_task(state, title="t") == "ok"
    assert state == {"tasks": ["t"]}


async def test_decorated_async_function_called_directly_is_a_coroutine() -> None:
    """Calling an async ``@tool`` directly gives its coroutine, to await as usual."""

    @tool
    async def answer() -> int:
        return 42

    assert await answer() == 42


def test_function_is_immutable() -> None:
    """A Function cannot be changed after construction (it is shared between concurrent runs)."""
    import dataclasses

    function = Function.from_callable(add)
    with pytest.raises(dataclasses.FrozenInstanceError):
        function.name = "other"  # pyright: ignore[reportAttributeAccessIssue]


def test_direct_construction_validates_against_the_entrypoint() -> None:
    """A Function built by hand still checks its name."""
    with pytest.raises(UsageError, match="invalid tool name"):
        Function(name="bad name", description="", parameters={}, entrypoint=add)


async def test_direct_construction_still_validates_arguments() -> None:
    """A Function built by hand with a custom schema validates arguments against the entrypoint."""
    function = Function(name="plus", description="Add.", parameters={"type": "object"}, entrypoint=add)
    assert await function.execute('{"a": 1}', injected()) == 2
    with pytest.raises(ToolCallError, match="tool 'plus'"):
        await function.execute('{"a": "x"}', injected())


# --- resolve_tools ------------------------------------------------------------------------------------------


def test_resolve_mixes_callables_functions_and_toolkits() -> None:
    """Callables become Functions, Functions stay, Toolkits expand, in the order given."""

    def a() -> None: ...

    def b() -> None: ...

    def c() -> None: ...

    b_function = Function.from_callable(b)
    functions = resolve_tools([a, b_function, Toolkit(tools=[c])])
    assert [f.name for f in functions] == ["a", "b", "c"]
    assert functions[1] is b_function


def test_resolve_rejects_duplicate_names() -> None:
    """Two tools with the same name raise UsageError naming it."""

    def add() -> None: ...

    with pytest.raises(UsageError, match="more than one tool is named 'add'"):
        resolve_tools([add, Function.from_callable(add)])


def test_resolve_rejects_duplicates_across_toolkits() -> None:
    """A toolkit tool clashing with a plain tool is a duplicate too."""
    with pytest.raises(UsageError, match="'add'"):
        resolve_tools([add, Toolkit(tools=[add])])


def test_resolve_rejects_non_callables_naming_them() -> None:
    """A non-callable raises UsageError with its position and value."""
    with pytest.raises(UsageError, match=r"tools\[1\] is 'add' \(str\): neither callable nor a Toolkit"):
        resolve_tools([add, "add"])  # pyright: ignore[reportArgumentType]


def test_resolve_nothing() -> None:
    """No tools resolve to an empty tuple."""
    assert resolve_tools([]) == ()


def test_resolve_tools_builds_one_function_per_callable() -> None:
    """Listing the same function in two agents' tools reuses its (immutable) Function."""

    def shared(x: int) -> int:
        """Shared."""
        return x

    (first,) = resolve_tools([shared])
    (second,) = resolve_tools([shared])
    assert first is second
