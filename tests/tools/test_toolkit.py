"""Tests for kern.tools.toolkit: grouping tools, selecting some, and subclasses registering methods."""

from __future__ import annotations

import pytest

from kern.exceptions import UsageError
from kern.session.context import RunContext
from kern.tools import Function, Injected, Toolkit, tool


def search(query: str) -> str:
    """Search."""
    return query


def fetch(url: str) -> str:
    """Fetch."""
    return url


def summarise(text: str) -> str:
    """Summarise."""
    return text[:10]


def names(toolkit: Toolkit) -> list[str]:
    return [f.name for f in toolkit.functions]


class Notes(Toolkit):
    """A toolkit whose tools are bound methods sharing the instance's prefix."""

    def __init__(self, prefix: str, **options: list[str]) -> None:
        self.prefix = prefix
        super().__init__(name="notes", tools=[self.write], instructions="Keep notes short.", **options)
        self.register(self.read)

    def write(self, text: str) -> str:
        """Write a note."""
        return f"{self.prefix}{text}"

    def read(self) -> str:
        """Read the notes."""
        return self.prefix


def test_tools_in_registration_order() -> None:
    """``functions`` lists the tools in the order they were given."""
    assert names(Toolkit(tools=[search, fetch, summarise])) == ["search", "fetch", "summarise"]


def test_functions_are_functions() -> None:
    """Plain callables are made into Functions; a given Function is kept as is."""
    fetch_tool = Function.from_callable(fetch)
    functions = Toolkit(tools=[search, fetch_tool]).functions
    assert all(isinstance(f, Function) for f in functions)
    assert functions[1] is fetch_tool


def test_include_tools_keeps_only_those() -> None:
    """``include_tools`` keeps just the named tools."""
    assert names(Toolkit(tools=[search, fetch, summarise], include_tools=["fetch"])) == ["fetch"]


def test_exclude_tools_drops_those() -> None:
    """``exclude_tools`` removes the named tools."""
    assert names(Toolkit(tools=[search, fetch, summarise], exclude_tools=["fetch"])) == [
        "search",
        "summarise",
    ]


def test_include_and_exclude_together() -> None:
    """Exclusion applies after inclusion."""
    toolkit = Toolkit(
        tools=[search, fetch, summarise], include_tools=["search", "fetch"], exclude_tools=["fetch"]
    )
    assert names(toolkit) == ["search"]


def test_unknown_include_name_lists_known_tools() -> None:
    """An unknown name in ``include_tools`` raises UsageError naming it and the known tools."""
    toolkit = Toolkit(name="web", tools=[search, fetch], include_tools=["serch"])
    with pytest.raises(
        UsageError, match=r"toolkit 'web': include_tools .*'serch'.*its tools: 'search', 'fetch'"
    ):
        _ = toolkit.functions


def test_unknown_exclude_name_lists_known_tools() -> None:
    """An unknown name in ``exclude_tools`` raises UsageError naming it and the known tools."""
    toolkit = Toolkit(name="web", tools=[search], exclude_tools=["fetch"])
    with pytest.raises(UsageError, match=r"exclude_tools .*'fetch'.*its tools: 'search'"):
        _ = toolkit.functions


def test_duplicate_registration_rejected() -> None:
    """Registering two tools with one name raises UsageError."""
    toolkit = Toolkit(name="web", tools=[search])
    with pytest.raises(UsageError, match="toolkit 'web' already has a tool named 'search'"):
        toolkit.register(search)


def test_register_under_another_name() -> None:
    """``register(fn, name=...)`` renames the tool; a Function given a name is renamed too."""
    toolkit = Toolkit()
    toolkit.register(search, name="web_search")
    renamed = toolkit.register(Function.from_callable(fetch), name="web_fetch")
    assert names(toolkit) == ["web_search", "web_fetch"]
    assert renamed.parameters["properties"] == {"url": {"type": "string"}}


def test_subclass_registers_bound_methods() -> None:
    """A subclass's bound methods, passed to ``super().__init__`` or registered, are its tools."""
    assert names(Notes("> ")) == ["write", "read"]


@pytest.mark.anyio
async def test_bound_method_tool_uses_the_instance() -> None:
    """A toolkit method runs against its own instance."""
    write = Notes("> ").functions[0]
    context = RunContext(run_id="r", session_id="s", user_id=None, session_state={})
    assert await write.execute('{"text": "hi"}', Injected(run_context=context)) == "> hi"


def test_subclass_include_checked_after_registration() -> None:
    """``include_tools`` may name a method the subclass registers after ``super().__init__``."""
    assert names(Notes("> ", include_tools=["read"])) == ["read"]


def test_instructions_and_name_kept() -> None:
    """The toolkit keeps its name and instructions for the agent's system message."""
    toolkit = Notes("> ")
    assert (toolkit.name, toolkit.instructions) == ("notes", "Keep notes short.")


def test_defaults() -> None:
    """A bare Toolkit is named "toolkit", has no instructions and no tools."""
    toolkit = Toolkit()
    assert (toolkit.name, toolkit.instructions, toolkit.functions) == ("toolkit", None, ())


def test_decorated_tool_in_a_toolkit() -> None:
    """A ``@tool`` Function keeps its options inside a toolkit."""

    @tool(name="confirm_delete", requires_confirmation=True)
    def delete(item: str) -> None: ...

    (function,) = Toolkit(tools=[delete]).functions
    assert (function.name, function.requires_confirmation) == ("confirm_delete", True)
