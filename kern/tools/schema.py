"""The arguments boundary of a tool: its signature as a pydantic model, a JSON schema, and validation.

The model sees a tool's arguments as a JSON schema and answers with JSON text; both directions go through
one pydantic model built from the function's signature, so what the schema promises is exactly what
validation accepts. Every field of that model is named ``a0``, ``a1``... and carries the parameter's name as
its alias: a parameter may then be called ``json``, ``schema`` or ``_private`` without colliding with
``BaseModel``'s own attributes, while the schema and the error messages still show the real name.

Which parameters are injected by the runtime rather than supplied by the model is decided by
:mod:`kern.tools.function`; this module only sees the model-visible ones.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaWarningKind
from pydantic_core import ErrorDetails

from kern.exceptions import ToolCallError, UsageError

_SUBSCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
_SUBSCHEMAS = frozenset(
    {"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else"}
)
_INPUT_PREVIEW = 60


@dataclass(frozen=True, slots=True)
class ToolParameter:
    """One parameter of a tool function; ``default`` is ``inspect.Parameter.empty`` when it is required."""

    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is inspect.Parameter.empty


def signature_parameters(fn: Callable[..., Any], *, tool_name: str) -> tuple[ToolParameter, ...]:
    """The parameters of ``fn`` with their resolved annotations (``Any`` when unannotated).

    Raises UsageError for ``*args``/``**kwargs`` and positional-only parameters, which a call made of
    named JSON arguments cannot fill, and for annotations that do not resolve.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"tool {tool_name!r}: cannot read the signature of {fn!r}: {exc}") from exc
    hints = _type_hints(fn, tool_name)
    parameters: list[ToolParameter] = []
    for param in signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            star = "*" if param.kind is inspect.Parameter.VAR_POSITIONAL else "**"
            raise UsageError(
                f"tool {tool_name!r}: {star}{param.name} is not supported; "
                "a tool's arguments must be named parameters"
            )
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise UsageError(f"tool {tool_name!r}: positional-only parameter {param.name!r} is not supported")
        parameters.append(ToolParameter(param.name, hints.get(param.name, Any), param.default))
    return tuple(parameters)


def _type_hints(fn: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    """The resolved annotations of the function behind ``fn`` (a partial's function, an object's __call__)."""
    target: Any = inspect.unwrap(fn)
    while hasattr(target, "func") and not inspect.isroutine(target):  # functools.partial
        target = target.func
    if not inspect.isroutine(target):  # a callable instance
        target = type(target).__call__
    try:
        return typing.get_type_hints(target, localns=_closure_names(target), include_extras=True)
    except NameError as exc:
        raise UsageError(f"tool {tool_name!r}: an annotation does not resolve: {exc}") from exc
    except TypeError:
        return {}


def _closure_names(fn: Any) -> dict[str, Any]:
    """The names a nested function closes over: string annotations may name types local to its factory."""
    code = getattr(fn, "__code__", None)
    cells: tuple[Any, ...] = getattr(fn, "__closure__", None) or ()
    if code is None:
        return {}
    names: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, cells, strict=False):
        try:
            names[name] = cell.cell_contents
        except ValueError:  # an empty cell: the name is not bound yet
            continue
    return names


@dataclass(frozen=True, slots=True)
class ArgsModel:
    """The pydantic model of a tool's model-visible arguments and the JSON schema the model is shown."""

    tool_name: str
    model: type[BaseModel]
    names: Mapping[str, str]  # field name (a0, a1, ...) -> parameter name
    json_schema: dict[str, Any]

    @classmethod
    def build(
        cls, tool_name: str, parameters: Sequence[ToolParameter], descriptions: Mapping[str, str]
    ) -> ArgsModel:
        """The model of ``parameters``, each described from ``descriptions`` when it has an entry."""
        fields: dict[str, Any] = {}
        names: dict[str, str] = {}
        for index, param in enumerate(parameters):
            field_name = f"a{index}"
            names[field_name] = param.name
            fields[field_name] = (param.annotation, _field_info(param, descriptions.get(param.name)))
        try:
            model = create_model(tool_name, __config__=ConfigDict(extra="forbid"), **fields)
            schema = model.model_json_schema(schema_generator=_SchemaGenerator)
        except PydanticUserError as exc:
            raise UsageError(f"tool {tool_name!r}: cannot build the arguments schema: {exc}") from exc
        return cls(tool_name, model, names, _clean_schema(schema))

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The validated arguments by parameter name, or ToolCallError listing every problem."""
        try:
            instance = self.model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolCallError(self._problems(exc.errors())) from None
        return {param: getattr(instance, field_name) for field_name, param in self.names.items()}

    def _problems(self, errors: Sequence[ErrorDetails]) -> str:
        """One message for the model: each argument and what is wrong with it."""
        lines = [f"invalid arguments for tool {self.tool_name!r}:"]
        lines += [f"- {_location(error['loc'])}: {self._problem(error)}" for error in errors]
        return "\n".join(lines)

    def _problem(self, error: ErrorDetails) -> str:
        if error["type"] == "missing":
            return "required but missing"
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
            known = ", ".join(self.names.values()) or "none"
            return f"unknown argument (this tool's arguments are: {known})"
        preview = repr(error["input"])
        if len(preview) > _INPUT_PREVIEW:
            preview = preview[: _INPUT_PREVIEW - 3] + "..."
        return f"{error['msg']} (got {preview})"


def _field_info(param: ToolParameter, description: str | None) -> Any:
    """The pydantic ``Field`` of one parameter: its alias, its default if any, its description if any."""
    options: dict[str, Any] = {"alias": param.name}
    if description:
        options["description"] = description
    if not param.required:
        options["default"] = param.default
    return Field(**options)


def _location(loc: tuple[int | str, ...]) -> str:
    """``('items', 2, 'name')`` -> ``items[2].name``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "arguments"


class _SchemaGenerator(GenerateJsonSchema):
    """Pydantic's generator, quiet about defaults it cannot show (they are left out of the schema)."""

    ignored_warning_kinds: set[JsonSchemaWarningKind] = {"skipped-choice", "non-serializable-default"}  # noqa: RUF012


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema without its generated titles, always with ``properties`` and ``required``."""
    clean = _strip_titles(schema)
    return {
        "type": "object",
        "properties": clean.get("properties", {}),
        "required": clean.get("required", []),
        "additionalProperties": False,
        **({"$defs": clean["$defs"]} if "$defs" in clean else {}),
    }


def _strip_titles(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without ``title`` keywords; only subschemas are walked (a property may be named title)."""
    clean: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            clean[key] = {name: _strip_node(sub) for name, sub in typing.cast(dict[str, Any], value).items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            clean[key] = [_strip_node(sub) for sub in typing.cast(list[Any], value)]
        elif key in _SUBSCHEMAS:
            clean[key] = _strip_node(value)
        else:
            clean[key] = value
    return clean


def _strip_node(node: Any) -> Any:
    return _strip_titles(typing.cast(dict[str, Any], node)) if isinstance(node, dict) else node


# --- the schema the model is shown: built once, shared read-only -------------------------------------------


def _read_only(self: object, *_: object, **__: object) -> typing.NoReturn:
    raise TypeError(
        "a tool's schema is shared by every run and read-only; copy it to change it "
        "(copy.deepcopy, or ToolDefinition.to_openai(), which returns plain dicts and lists)"
    )


class ReadOnlyDict(dict[str, Any]):
    """A dict that refuses changes: what ``ToolDefinition.parameters`` holds (JSON-serializable as is).

    A copy (``copy.copy``, ``copy.deepcopy``, ``dict(...)``) is a plain, mutable one.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only  # pyright: ignore[reportAssignmentType]

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return typing.cast(dict[str, Any], thaw_schema(self))


class ReadOnlyList(list[Any]):
    """A list that refuses changes, for the lists inside a read-only schema (``required``, ``anyOf``...)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only  # pyright: ignore[reportAssignmentType]
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only  # pyright: ignore[reportAssignmentType]

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return typing.cast(list[Any], thaw_schema(self))


def freeze_schema(value: Any) -> Any:
    """A read-only deep copy of a JSON value: dicts and lists become ReadOnlyDict and ReadOnlyList."""
    if isinstance(value, dict):
        items = typing.cast(dict[Any, Any], value).items()
        return ReadOnlyDict({str(k): freeze_schema(v) for k, v in items})
    if isinstance(value, list | tuple):
        return ReadOnlyList(freeze_schema(v) for v in typing.cast(Sequence[Any], value))
    return value


def thaw_schema(value: Any) -> Any:
    """A plain, mutable deep copy of a JSON value (dicts and lists; anything else is shared)."""
    if isinstance(value, dict):
        return {k: thaw_schema(v) for k, v in typing.cast(dict[Any, Any], value).items()}
    if isinstance(value, list):
        return [thaw_schema(v) for v in typing.cast(list[Any], value)]
    return value
