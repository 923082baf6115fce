"""Tests for the arguments schema a tool shows the model (kern.tools.schema through Function)."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from kern.exceptions import UsageError
from kern.session.context import RunContext
from kern.tools import Function


def schema_of(fn: Any) -> dict[str, Any]:
    return Function.from_callable(fn).parameters


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Opaque:
    """A type pydantic has no schema for."""


class Address(BaseModel):
    street: str
    number: int = 1


# --- types --------------------------------------------------------------------------------------------------


def test_scalar_types_map_to_json_types() -> None:
    """int, str, float and bool become integer, string, number and boolean, all required."""

    def f(a: int, b: str, c: float, d: bool) -> None: ...

    schema = schema_of(f)
    assert schema["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "string"},
        "c": {"type": "number"},
        "d": {"type": "boolean"},
    }
    assert schema["required"] == ["a", "b", "c", "d"]


def test_top_level_is_a_closed_object() -> None:
    """The schema is an object that forbids properties the tool does not take."""

    def f(a: int) -> None: ...

    schema = schema_of(f)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


def test_no_parameters_gives_empty_properties_and_required() -> None:
    """A tool without arguments still has ``properties`` and ``required``, both empty."""

    def f() -> None: ...

    assert schema_of(f) == {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def test_optional_is_a_union_with_null() -> None:
    """``int | None`` without a default is required and accepts null."""

    def f(a: int | None) -> None: ...

    schema = schema_of(f)
    assert schema["properties"]["a"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert schema["required"] == ["a"]


def test_list_of_str() -> None:
    """``list[str]`` is an array of strings."""

    def f(tags: list[str]) -> None: ...

    assert schema_of(f)["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}


def test_dict_of_str_to_int() -> None:
    """``dict[str, int]`` is an object whose values are integers."""

    def f(counts: dict[str, int]) -> None: ...

    assert schema_of(f)["properties"]["counts"] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }


def test_literal_is_an_enum() -> None:
    """A Literal lists its values."""

    def f(mode: Literal["fast", "slow"]) -> None: ...

    assert schema_of(f)["properties"]["mode"] == {"type": "string", "enum": ["fast", "slow"]}


def test_enum_is_a_definition() -> None:
    """An Enum parameter refers to a ``$defs`` entry listing its values."""

    def f(color: Color) -> None: ...

    schema = schema_of(f)
    assert schema["properties"]["color"] == {"$ref": "#/$defs/Color"}
    assert schema["$defs"]["Color"] == {"type": "string", "enum": ["red", "blue"]}


def test_pydantic_model_is_a_definition() -> None:
    """A pydantic model parameter refers to a ``$defs`` entry with its own properties and required."""

    def f(address: Address) -> None: ...

    schema = schema_of(f)
    assert schema["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert schema["$defs"]["Address"] == {
        "type": "object",
        "properties": {"street": {"type": "string"}, "number": {"type": "integer", "default": 1}},
        "required": ["street"],
    }


def test_defaults_are_optional_and_shown() -> None:
    """A parameter with a default is not required and its default appears in the schema."""

    def f(query: str, limit: int = 10) -> None: ...

    schema = schema_of(f)
    assert schema["required"] == ["query"]
    assert schema["properties"]["limit"] == {"type": "integer", "default": 10}


def test_unannotated_parameter_accepts_anything() -> None:
    """An unannotated parameter has an empty (any) schema and is still required."""

    def f(x) -> None: ...  # pyright: ignore[reportMissingParameterType, reportUnknownParameterType]

    schema = schema_of(f)
    assert schema["properties"]["x"] == {}
    assert schema["required"] == ["x"]


def test_annotated_field_constraints_are_kept() -> None:
    """Constraints given with ``Annotated[..., Field(...)]`` reach the schema."""

    def f(n: Annotated[int, Field(ge=1, le=5)]) -> None: ...

    assert schema_of(f)["properties"]["n"] == {"type": "integer", "minimum": 1, "maximum": 5}


def test_non_json_default_is_left_out_quietly() -> None:
    """A default JSON cannot show is omitted from the schema without a warning (warnings are errors here)."""
    sentinel = object()

    def f(x: Any = sentinel) -> None: ...

    schema = schema_of(f)
    assert schema["properties"]["x"] == {}
    assert schema["required"] == []


def test_parameter_named_like_a_basemodel_attribute() -> None:
    """Parameters called ``json``, ``schema`` or ``copy`` are ordinary properties."""

    def f(json: str, schema: str, copy: bool = False) -> None: ...

    assert list(schema_of(f)["properties"]) == ["json", "schema", "copy"]


# --- titles -------------------------------------------------------------------------------------------------


def test_titles_are_stripped_everywhere() -> None:
    """No generated ``title`` keyword remains, at the top, in properties or in ``$defs``."""

    def f(a: int, address: Address, color: Color) -> None: ...

    assert '"title"' not in str(schema_of(f)).replace("'", '"')


def test_a_property_named_title_is_kept() -> None:
    """Stripping titles does not remove a parameter that is itself named ``title``."""

    def f(title: str) -> None: ...

    assert schema_of(f)["properties"] == {"title": {"type": "string"}}


# --- docstrings ---------------------------------------------------------------------------------------------


def documented(query: str, limit: int = 5, verbose: bool = False) -> None:
    """Search the catalogue
    for products.

    Matches on name and description.

    Args:
        query: What to look for,
            in plain words.
        limit (int): At most this many results.
        verbose: Include details.

    Returns:
        The matching products.

    Raises:
        ValueError: never.
    """


def test_description_is_the_text_before_the_sections() -> None:
    """The description is the docstring before ``Args:``, lines joined and paragraphs kept."""
    function = Function.from_callable(documented)
    assert function.description == "Search the catalogue for products.\n\nMatches on name and description."


def test_argument_descriptions_come_from_args() -> None:
    """Each ``Args:`` entry describes its property, continuation lines joined."""
    properties = Function.from_callable(documented).parameters["properties"]
    assert properties["query"]["description"] == "What to look for, in plain words."
    assert properties["verbose"]["description"] == "Include details."


def test_argument_entry_with_a_type_in_parentheses() -> None:
    """``name (type): text`` entries are read like ``name: text``."""
    properties = Function.from_callable(documented).parameters["properties"]
    assert properties["limit"] == {
        "type": "integer",
        "default": 5,
        "description": "At most this many results.",
    }


def test_returns_and_raises_are_not_in_the_description() -> None:
    """Returns and Raises sections are dropped."""
    assert "matching products" not in Function.from_callable(documented).description


def test_example_section_ends_the_description() -> None:
    """An ``Examples:`` section is not part of the description."""

    def f() -> None:
        """Do it.

        Examples:
            f()
        """

    assert Function.from_callable(f).description == "Do it."


def test_missing_docstring_gives_empty_description() -> None:
    """A function without a docstring is a tool with an empty description and undescribed properties."""

    def f(a: int) -> None: ...

    function = Function.from_callable(f)
    assert function.description == ""
    assert function.parameters["properties"]["a"] == {"type": "integer"}


def test_explicit_description_wins_over_docstring() -> None:
    """``description=`` replaces the docstring's text."""
    assert Function.from_callable(documented, description="Find things.").description == "Find things."


def test_documented_model_parameter_keeps_its_ref() -> None:
    """A described model parameter is still a ``$ref``, with the description beside it."""

    def f(address: Address) -> None:
        """Ship.

        Args:
            address: Where to.
        """

    assert schema_of(f)["properties"]["address"] == {"$ref": "#/$defs/Address", "description": "Where to."}


# --- injected parameters ------------------------------------------------------------------------------------


def test_injected_names_are_absent_from_the_schema() -> None:
    """``session_state``, ``run_context``, ``agent``, ``team`` and ``dependencies`` are not model-visible."""

    def f(
        session_state: dict[str, Any],
        run_context: RunContext,
        agent: object,
        team: object,
        dependencies: dict[str, Any],
        item: str,
    ) -> None: ...

    schema = schema_of(f)
    assert list(schema["properties"]) == ["item"]
    assert schema["required"] == ["item"]


def test_run_context_annotation_under_any_name_is_absent() -> None:
    """A parameter annotated ``RunContext`` is injected whatever its name."""

    def f(ctx: RunContext, item: str) -> None: ...

    schema = schema_of(f)
    assert list(schema["properties"]) == ["item"]
    assert schema["required"] == ["item"]


def test_optional_run_context_annotation_is_injected() -> None:
    """``RunContext | None`` counts as a RunContext annotation."""

    def f(item: str, ctx: RunContext | None = None) -> None: ...

    assert list(schema_of(f)["properties"]) == ["item"]


def test_unannotated_injected_name_is_absent() -> None:
    """``session_state`` is injected by its name alone, without an annotation (as the seeds write it)."""

    def f(session_state, title: str) -> None: ...  # pyright: ignore[reportMissingParameterType, reportUnknownParameterType]

    assert list(schema_of(f)["properties"]) == ["title"]


def test_injected_argument_descriptions_do_not_leak() -> None:
    """An ``Args:`` entry for an injected parameter does not add a property."""

    def f(run_context: RunContext, item: str) -> None:
        """Add.

        Args:
            run_context: The run.
            item: The item.
        """

    assert schema_of(f)["properties"] == {"item": {"type": "string", "description": "The item."}}


# --- rejected signatures and names --------------------------------------------------------------------------


def test_var_args_rejected_naming_the_function() -> None:
    """``*args`` raises UsageError naming the tool and the parameter."""

    def spread(*items: str) -> None: ...

    with pytest.raises(UsageError, match=r"'spread'.*\*items"):
        Function.from_callable(spread)


def test_var_kwargs_rejected_naming_the_function() -> None:
    """``**kwargs`` raises UsageError naming the tool and the parameter."""

    def loose(**options: str) -> None: ...

    with pytest.raises(UsageError, match=r"'loose'.*\*\*options"):
        Function.from_callable(loose)


def test_positional_only_rejected() -> None:
    """A positional-only parameter cannot be filled from named JSON arguments, so it is refused."""

    def f(a: int, /) -> None: ...

    with pytest.raises(UsageError, match="positional-only parameter 'a'"):
        Function.from_callable(f)


@pytest.mark.parametrize("name", ["has space", "dotted.name", "", "x" * 65, "<lambda>", "trailing\n"])
def test_bad_names_rejected(name: str) -> None:
    """A tool name outside ``^[a-zA-Z0-9_-]{1,64}$`` raises UsageError quoting it."""

    def f() -> None: ...

    with pytest.raises(UsageError, match="invalid tool name"):
        Function.from_callable(f, name=name)


def test_lambda_without_name_rejected() -> None:
    """A lambda's ``<lambda>`` is not a valid name: UsageError suggests passing one."""
    with pytest.raises(UsageError, match=r"'<lambda>'.*name="):
        Function.from_callable(lambda: None)


def test_name_defaults_to_function_name_and_can_be_overridden() -> None:
    """The tool is named after the function unless ``name=`` is given."""
    assert Function.from_callable(documented).name == "documented"
    assert Function.from_callable(documented, name="search-v2").name == "search-v2"


def test_unschemable_annotation_rejected() -> None:
    """A parameter type pydantic cannot describe raises UsageError naming the tool."""

    def f(thing: Opaque) -> None: ...

    with pytest.raises(UsageError, match="tool 'f': cannot build the arguments schema"):
        Function.from_callable(f)


def test_local_type_used_by_a_nested_tool_resolves() -> None:
    """A type local to the enclosing function resolves when the tool closes over it."""

    class Local(BaseModel):
        n: int

    def f(x: Local) -> int:
        return Local.model_validate(x).n

    assert schema_of(f)["$defs"]["Local"]["required"] == ["n"]


def test_unresolvable_annotation_rejected() -> None:
    """An annotation that names nothing importable raises UsageError naming the tool and the name."""

    def f(thing: Missing) -> None: ...  # noqa: F821  # pyright: ignore[reportUndefinedVariable]

    with pytest.raises(UsageError, match="tool 'f': an annotation does not resolve: name 'Missing'"):
        Function.from_callable(f)


def test_definition_schema_is_read_only() -> None:
    """Changing a ToolDefinition's shared schema raises TypeError and leaves the Function untouched."""
    function = Function.from_callable(documented)
    definition = function.definition
    with pytest.raises(TypeError, match="read-only"):
        definition.parameters["properties"].clear()
    assert definition.name == "documented"
    assert "query" in function.parameters["properties"]
