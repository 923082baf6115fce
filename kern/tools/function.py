"""Function: a Python callable made into a tool the model can call, and the one way the runtime calls it.

Users write tools as plain functions, sync or async, and ask for what the runtime holds by parameter name
(``session_state``, ``run_context``, ``agent``, ``team``, ``dependencies``) or by annotating any parameter
``RunContext``. Those parameters are injected, never shown to the model and never accepted from it; the rest
form the arguments schema (:mod:`kern.tools.schema`). A :class:`Function` is immutable, so one Agent
definition serves concurrent runs: what differs per run arrives in :class:`Injected` at call time.

``session_state`` is the live dict of the run, the very object in ``RunContext.session_state``: a tool's
changes are what the run commits. Sync tools run in a worker thread so they cannot block the event loop,
unless marked ``inline=True``: then they are called on the loop itself (cheap, non-blocking code only).
"""

from __future__ import annotations

import contextlib
import json
import re
import typing
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, overload

from kern._private.calls import call_with, is_async_callable
from kern._private.validate import check_seconds
from kern.exceptions import ToolCallError, UsageError
from kern.models.base import ToolDefinition
from kern.tools.docstring import parse_docstring
from kern.tools.injection import (
    INJECTED_PARAMETERS,
    TOOL_KINDS,
    Injected,
    InjectedKind,
    Plan,
    injection_kind,
    takes_state,
)
from kern.tools.result import format_result
from kern.tools.schema import ArgsModel, freeze_schema, signature_parameters

if TYPE_CHECKING:
    from kern.tools.toolkit import Toolkit

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class _CallSpec:
    """How to call the entrypoint: its arguments model and which parameters are injected."""

    args: ArgsModel
    injected: Plan  # parameter name -> what it receives

    @classmethod
    def of(cls, fn: Callable[..., Any], tool_name: str, descriptions: Mapping[str, str]) -> _CallSpec:
        parameters = signature_parameters(fn, tool_name=tool_name)
        injected: dict[str, InjectedKind] = {}
        for p in parameters:
            if (kind := injection_kind(p.name, p.annotation, TOOL_KINDS)) is not None:
                injected[p.name] = kind
        visible = [p for p in parameters if p.name not in injected]
        return cls(ArgsModel.build(tool_name, visible, descriptions), injected)


@dataclass(frozen=True, eq=False)
class Function:
    """A tool: what the model is told about it, and the callable that runs it.

    Immutable and shareable between concurrent runs. Build one with :meth:`from_callable` or :func:`tool`;
    constructed directly, its ``parameters`` are shown to the model as given while the arguments are
    still validated against ``entrypoint``'s signature.
    """

    name: str
    description: str
    parameters: dict[str, Any] = field(repr=False)  # JSON schema (type object) of the model-visible arguments
    entrypoint: Callable[..., Any]  # the user's function: sync or async, bound methods fine
    show_result: bool = False
    stop_after_tool_call: bool = False
    requires_confirmation: bool = False
    timeout: float | None = None
    """Seconds a call may take before it becomes an error result (None: the definition's ``tool_timeout``)."""
    inline: bool = False
    """A sync entrypoint is called on the event loop instead of a worker thread (no effect on async ones)."""
    _spec: InitVar[_CallSpec | None] = None
    _call: _CallSpec = field(init=False, repr=False)
    _definition: ToolDefinition = field(init=False, repr=False)

    def __post_init__(self, _spec: _CallSpec | None) -> None:
        _check_name(self.name)
        check_seconds(self.timeout, "timeout", optional=True, where=f"tool {self.name!r}")
        if _spec is None:
            _spec = _CallSpec.of(
                self.entrypoint, self.name, parse_docstring(self.entrypoint.__doc__).arguments
            )
        if not isinstance(self.inline, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(f"tool {self.name!r}: inline must be True or False, got {self.inline!r}")
        object.__setattr__(self, "_call", _spec)
        # Built once: the schema is copied here, read-only, and shared by every model call of every run.
        definition = ToolDefinition(self.name, self.description, freeze_schema(self.parameters))
        object.__setattr__(self, "_definition", definition)

    @property
    def is_async(self) -> bool:
        """True if the entrypoint is awaited on the event loop (a sync one runs in a worker thread)."""
        return is_async_callable(self.entrypoint)

    @property
    def in_thread(self) -> bool:
        """True if a call runs in a worker thread: a sync entrypoint not marked ``inline``."""
        return not self.inline and not self.is_async

    @property
    def takes_state(self) -> bool:
        """True if it receives session_state or run_context (the run loop holds the state lock around it)."""
        return takes_state(self._call.injected)

    @property
    def definition(self) -> ToolDefinition:
        """The tool as the model sees it, built once: its schema is a read-only copy of ``parameters``
        (a provider that rewrites schemas gets its own copy, :meth:`ToolDefinition.to_openai`)."""
        return self._definition

    @classmethod
    def from_callable(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        show_result: bool = False,
        stop_after_tool_call: bool = False,
        requires_confirmation: bool = False,
        timeout: float | None = None,
        inline: bool = False,
    ) -> Function:
        """A tool from ``fn``, named ``name`` or ``fn.__name__``, described by ``description`` or its docs."""
        if not callable(fn):
            raise UsageError(f"a tool must be callable, got {fn!r} ({type(fn).__name__})")
        tool_name = name if name is not None else _default_name(fn)
        _check_name(tool_name)
        doc = parse_docstring(fn.__doc__)
        spec = _CallSpec.of(fn, tool_name, doc.arguments)
        return cls(
            name=tool_name,
            description=doc.description if description is None else description,
            parameters=spec.args.json_schema,
            entrypoint=fn,
            show_result=show_result,
            stop_after_tool_call=stop_after_tool_call,
            requires_confirmation=requires_confirmation,
            timeout=timeout,
            inline=inline,
            _spec=spec,
        )

    async def execute(self, arguments: str, injected: Injected) -> Any:
        """Run the tool on the model's raw JSON ``arguments``.

        Raises ToolCallError, with a message the model can act on, when the arguments are not a JSON
        object, name an injected parameter, or fail validation. Whatever the tool itself raises propagates
        unchanged.
        """
        kwargs = self._call.args.validate(self._parse(arguments))
        kwargs.update(injected.kwargs(self._call.injected))
        return await call_with(self.entrypoint, (), kwargs, inline=self.inline)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the original function, so a ``@tool`` function stays callable in user code."""
        return self.entrypoint(*args, **kwargs)

    def _parse(self, arguments: str) -> dict[str, Any]:
        """The model's arguments as a dict: empty text is no arguments."""
        if not arguments.strip():
            return {}
        try:
            data = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolCallError(f"arguments for tool {self.name!r} are not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            kind = _json_kind(data)
            raise ToolCallError(
                f"arguments for tool {self.name!r} must be a JSON object of named arguments, not {kind}"
            )
        arguments_by_name = typing.cast(dict[str, Any], data)
        runtime = [
            key for key in arguments_by_name if key in INJECTED_PARAMETERS or key in self._call.injected
        ]
        if runtime:
            names = ", ".join(repr(key) for key in runtime)
            verb = "is" if len(runtime) == 1 else "are"
            raise ToolCallError(
                f"tool {self.name!r}: {names} {verb} provided by the runtime and cannot be passed"
            )
        return arguments_by_name


@overload
def tool(fn: Callable[..., Any], /) -> Function: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    show_result: bool = False,
    stop_after_tool_call: bool = False,
    requires_confirmation: bool = False,
    timeout: float | None = None,
    inline: bool = False,
) -> Callable[[Callable[..., Any]], Function]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    show_result: bool = False,
    stop_after_tool_call: bool = False,
    requires_confirmation: bool = False,
    timeout: float | None = None,
    inline: bool = False,
) -> Function | Callable[[Callable[..., Any]], Function]:
    """Make a function a tool: both ``@tool`` and ``@tool(name=...)``; returns a :class:`Function`.

    ``timeout`` (seconds) bounds each call: one that takes longer becomes an error result the model
    sees, and its changes to the session state are undone (default: the Agent's ``tool_timeout``).

    ``inline=True`` calls a sync function on the event loop instead of a worker thread, saving the
    thread hop: for cheap code that never blocks (no I/O, no sleeps). While it runs, nothing else of the
    process's event loop does, and nothing can interrupt it: a timeout only applies once it returns
    (a call that returns after its timeout is the timeout's error result, its state changes undone).
    """

    def decorate(target: Callable[..., Any]) -> Function:
        return Function.from_callable(
            target,
            name=name,
            description=description,
            show_result=show_result,
            stop_after_tool_call=stop_after_tool_call,
            requires_confirmation=requires_confirmation,
            timeout=timeout,
            inline=inline,
        )

    return decorate if fn is None else decorate(fn)


def resolve_tools(tools: Sequence[Callable[..., Any] | Function | Toolkit]) -> tuple[Function, ...]:
    """Plain callables become Functions and Toolkits expand; a duplicate name or a non-callable raises."""
    from kern.tools.toolkit import Toolkit  # toolkit imports this module

    functions: list[Function] = []
    for index, item in enumerate(tools):
        if isinstance(item, Toolkit):
            functions.extend(item.functions)
        elif isinstance(item, Function):
            functions.append(item)
        elif callable(item):
            functions.append(_function_of(item))
        else:
            raise UsageError(
                f"tools[{index}] is {item!r} ({type(item).__name__}): neither callable nor a Toolkit"
            )
    duplicates = sorted(name for name, count in Counter(f.name for f in functions).items() if count > 1)
    if duplicates:
        raise UsageError(
            f"tool names must be unique; more than one tool is named {', '.join(map(repr, duplicates))}"
        )
    return tuple(functions)


_functions: weakref.WeakKeyDictionary[Callable[..., Any], Function] = weakref.WeakKeyDictionary()


def _function_of(fn: Callable[..., Any]) -> Function:
    """The Function of a plain callable, built once per callable: a Function is immutable, so every
    Agent listing the same function shares it (building one costs a pydantic model and its schema)."""
    try:
        return _functions[fn]
    except (KeyError, TypeError):  # TypeError: not weakly referenceable, so not cached
        pass
    function = Function.from_callable(fn)
    with contextlib.suppress(TypeError):
        _functions[fn] = function
    return function


def _json_kind(value: object) -> str:
    """How JSON names the type of a parsed value, for messages to the model."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def _default_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        raise UsageError(f"{fn!r} has no __name__; give the tool a name (name=...)")
    return name


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid tool name {name!r}: use 1 to 64 letters, digits, '_' or '-' (pass name=... to rename)"
        )


__all__ = [
    "INJECTED_PARAMETERS",
    "Function",
    "Injected",
    "InjectedKind",
    "format_result",
    "resolve_tools",
    "tool",
]
