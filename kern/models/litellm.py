"""LiteLLM: Kern's general model, for every provider litellm speaks and any OpenAI-compatible server.

Three things happen here and nowhere else. litellm is imported lazily, on the first call and in a
worker thread: the import takes seconds, and unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set it fetches a
price list from the network. litellm's and the OpenAI client's own retries are off, because Kern
retries (``model.retries`` through :func:`kern.models.call.call_model`): a failing attempt reaches the
provider exactly once. And provider errors become :class:`~kern.exceptions.ModelError` subclasses
(:func:`model_error`), the original chained as ``__cause__``: each names the model, the base URL and
how far the call got (before the response, or after how many streamed deltas), and is classified for
the retry policy: rate limits, server failures and lost connections are retried; a missing or refused
key, a request the server refused (a 4xx, or a 5xx whose message says the request is malformed, as
llama.cpp answers "Failed to parse tool call arguments as JSON") are not, since the same request
would fail the same way.
"""

from __future__ import annotations

import email.utils
import importlib
import math
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

import anyio
from pydantic import BaseModel

from kern._private.log import get_logger
from kern._private.validate import check_instance, check_int, check_number, check_seconds, given
from kern.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
    UsageError,
)
from kern.models._openai_format import (
    messages_to_openai,
    parse_chunk,
    parse_response,
    response_format,
    tools_to_openai,
)
from kern.models.base import Model, ModelDelta, ModelResponse, ToolDefinition
from kern.models.message import Message

# Request keys Kern sets itself: as settings they would silently fight the constructor or the run loop.
_RESERVED = frozenset(
    {
        "model", "messages", "tools", "stream", "stream_options", "api_base", "base_url", "api_key",
        "timeout", "num_retries", "max_retries",
    }
)  # fmt: skip
# Settings repr hides: a name whose last word is one of these (api_key, aws_session_token,
# vertex_credentials), or a mapping of headers, whose values are hidden; never max_tokens and the like.
_SECRET_WORDS = frozenset({"key", "token", "secret", "password", "credentials", "authorization"})
_HEADER_SETTINGS = frozenset({"headers", "extra_headers"})
# A 5xx whose message says the request itself cannot be processed: the same request fails again.
_MALFORMED_HINTS = (
    "failed to parse", "parse error", "parse_error", "could not parse", "malformed", "invalid json",
    "not valid json", "context size", "context length", "context window",
)  # fmt: skip
# Sampling settings checked at construction, where a value no provider takes is obviously wrong.
_NUMERIC_SETTINGS = (("temperature", 0.0, math.inf), ("top_p", 0.0, 1.0))

log = get_logger(__name__)


class LiteLLM(Model):
    """A model answered through ``litellm.acompletion``; ``id`` is litellm's ``"provider/model"``.

    ``api_base`` (alias ``base_url``) and ``api_key`` point it at any OpenAI-compatible server (vLLM,
    llama.cpp, Ollama; a local server takes any key, e.g. ``api_key="dummy"``, but one must be given).
    ``timeout`` (seconds) bounds one model call as Kern makes it, retries and the whole stream
    included (:class:`~kern.models.base.Model`); it is also each HTTP request's timeout. ``settings``
    (``temperature``, ``max_tokens``, ...) go to litellm unchanged on every call; a server may ignore
    some (llama.cpp ignores ``parallel_tool_calls=False``: Kern runs however many tool calls an answer
    brings). Immutable, so one instance can be shared by concurrent runs.
    """

    _prefix = ""  # what a named face adds in front of the id its caller gave

    _api_base: str | None
    _api_key: str | None
    _settings: Mapping[str, Any]

    def __init__(
        self,
        id: str,
        *,
        api_base: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        retries: int = 2,
        timeout: float | None = None,
        **settings: Any,
    ) -> None:
        _check_arguments(type(self).__name__, id, api_base, base_url, retries, timeout, settings)
        values = {
            "id": id,
            "retries": retries,
            "_api_base": api_base or base_url,
            "_api_key": api_key,
            "timeout": timeout,
            "_settings": MappingProxyType(dict(settings)),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    @property
    def api_base(self) -> str | None:
        """The server's base URL, or None for the provider's default."""
        return self._api_base

    @property
    def api_key(self) -> str | None:
        """The key sent to the provider, or None for litellm's default (the provider's env variable)."""
        return self._api_key

    @property
    def settings(self) -> Mapping[str, Any]:
        """The extra arguments passed to litellm on every call (read-only)."""
        return self._settings

    @property
    def max_tokens(self) -> int | None:
        """The ``max_tokens`` (or ``max_completion_tokens``) setting, if given."""
        for name in ("max_tokens", "max_completion_tokens"):
            value = self._settings.get(name)
            if isinstance(value, int):
                return value
        return None

    def describe(self) -> str:
        """``model 'openai/x' at http://host:port/v1`` (or at the provider's default URL)."""
        return _where(self.id, self._api_base)

    def __repr__(self) -> str:
        parts = [repr(self.id.removeprefix(self._prefix))]
        if self._api_base is not None:
            parts.append(f"api_base={self._api_base!r}")
        if self._api_key is not None:
            parts.append("api_key='***'")
        parts.append(f"retries={self.retries!r}")
        if self.timeout is not None:
            parts.append(f"timeout={self.timeout!r}")
        parts += [f"{name}={_shown(name, value)!r}" for name, value in self._settings.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    async def response(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> ModelResponse:
        """Answer the conversation in one piece (one attempt; Kern calls it through call_model)."""
        raw = await self._call(self._request(messages, tools, output_schema, stream=False))
        return parse_response(raw)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Answer as a stream of deltas, tool-call fragments exactly as the provider sent them."""
        chunks = await self._call(self._request(messages, tools, output_schema, stream=True))
        delivered = 0
        try:
            async for chunk in chunks:
                delta = parse_chunk(chunk)
                if delta is not None:
                    delivered += 1
                    yield delta
        except Exception as exc:
            stage = f"the stream broke after {delivered} delta{'' if delivered == 1 else 's'}"
            error = model_error(exc, self.id, api_base=self._api_base, stage=stage)
            if error is None:
                raise
            raise error from exc
        finally:
            await _close(chunks)

    async def _call(self, request: dict[str, Any]) -> Any:
        """``litellm.acompletion(**request)``, its failure raised as a ModelError."""
        litellm = await _litellm()
        if request.get("tools"):
            _warn_without_tool_support(litellm, self.id)
        try:
            return await litellm.acompletion(**request)
        except Exception as exc:
            error = model_error(exc, self.id, api_base=self._api_base)
            if error is None:
                raise
            raise error from exc

    def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        output_schema: type[BaseModel] | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        """The keyword arguments of one ``litellm.acompletion`` call."""
        request: dict[str, Any] = {
            **self._settings,
            "model": self.id,
            "messages": messages_to_openai(messages),
        }
        request |= {"num_retries": 0, "max_retries": 0}
        optional = {"api_base": self._api_base, "api_key": self._api_key, "timeout": self.timeout}
        request |= {name: value for name, value in optional.items() if value is not None}
        if tools:
            request["tools"] = tools_to_openai(tools)
        if output_schema is not None:
            request["response_format"] = response_format(output_schema)
        if stream:
            request |= {"stream": True, "stream_options": {"include_usage": True}}
        return request


def _check_arguments(
    where: str,
    id: str,
    api_base: str | None,
    base_url: str | None,
    retries: int,
    timeout: float | None,
    settings: Mapping[str, Any],
) -> None:
    if not isinstance(id, str) or not id or id.endswith("/"):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UsageError(f"{where}: a model id is required, e.g. 'openai/gpt-4o-mini', got {given(id)}")
    check_instance(api_base, str, "api_base", "a URL str or None", where=where)
    check_instance(base_url, str, "base_url", "a URL str or None", where=where)
    if api_base is not None and base_url is not None and api_base != base_url:
        raise UsageError(f"api_base={api_base!r} and base_url={base_url!r} disagree; pass one of them")
    check_int(retries, "retries", minimum=0, where=where)
    check_seconds(timeout, "timeout", optional=True, where=where)
    for name, minimum, maximum in _NUMERIC_SETTINGS:
        if settings.get(name) is not None:
            check_number(settings[name], name, minimum=minimum, maximum=maximum, where=where)
    if settings.get("max_tokens") is not None:
        check_int(settings["max_tokens"], "max_tokens", minimum=1, where=where)
    reserved = sorted(_RESERVED & settings.keys())
    if reserved:
        raise UsageError(
            f"{', '.join(reserved)} cannot be passed as settings: Kern sets them on each call "
            "(use the constructor's api_base/api_key/timeout/retries)"
        )


def _shown(name: str, value: Any) -> Any:
    """A setting as ``repr`` shows it: a secret by its name hidden, a mapping of headers with its
    values hidden (the names show what is sent)."""
    lowered = name.lower()
    if lowered in _HEADER_SETTINGS and isinstance(value, Mapping):
        return dict.fromkeys(cast(Mapping[Any, Any], value), "***")
    if lowered in _HEADER_SETTINGS or lowered.replace("-", "_").rsplit("_", 1)[-1] in _SECRET_WORDS:
        return "***"
    return value


_tool_support_checked: set[str] = set()
_tool_support_lock = threading.Lock()


def _warn_without_tool_support(litellm: Any, model: str) -> None:
    """Log once per model id when litellm's model map says the model cannot take tools.

    Only a model the map knows, and says ``supports_function_calling: false`` of, is warned about; an
    unknown model (most local ones) is not guessed at. The tools are still sent: the server decides.
    """
    with _tool_support_lock:
        if model in _tool_support_checked:
            return
        _tool_support_checked.add(model)
    try:
        info: Any = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - an unmapped model: nothing is known, nothing is said
        return
    if isinstance(info, Mapping) and cast(Mapping[str, Any], info).get("supports_function_calling") is False:
        log.warning(
            "model.tools_unsupported",
            model=model,
            detail="litellm's model map says this model does not support tool calls; the tools are sent, "
            "but the model or its server may ignore them and answer without calling any",
        )


async def _close(chunks: Any) -> None:
    """Release the stream's connection, even when the consumer stopped early or was cancelled."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with anyio.move_on_after(5, shield=True):
            await aclose()


_module: Any = None
_module_lock = threading.Lock()


async def _litellm() -> Any:
    """The litellm module, imported (off the event loop) on first use."""
    if _module is not None:
        return _module
    return await anyio.to_thread.run_sync(_import_litellm)


def _import_litellm() -> Any:
    global _module
    with _module_lock:
        if _module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            try:
                module: Any = importlib.import_module("litellm")
            except ModuleNotFoundError as exc:
                if exc.name != "litellm":
                    raise
                raise ModuleNotFoundError(
                    "kern.models.litellm needs litellm: pip install 'kern[litellm]'", name="litellm"
                ) from exc
            module.suppress_debug_info = True
            module.telemetry = False  # older releases reported usage unless told not to; newer ignore it
            _module = module
        return _module


# -- provider errors -----------------------------------------------------------------------------------


def model_error(
    exc: Exception, model: str, *, api_base: str | None = None, stage: str | None = None
) -> ModelError | None:
    """The ModelError for a failed provider call, or None when ``exc`` is not a provider error.

    The message names the model, ``api_base`` (None: the provider's default URL) and ``stage``, how far
    the call got (None: before the response started).
    """
    import httpx
    import openai

    if not isinstance(exc, (openai.OpenAIError, httpx.HTTPError, ConnectionError, TimeoutError, ImportError)):
        return None
    where = _where(model, api_base)
    when = stage or "before the response started"
    status = _status(exc)
    if _no_key(exc):
        return ModelAuthenticationError(
            f"{where}: no API key was given ({exc}); pass api_key= or set the provider's key variable "
            "(OPENAI_API_KEY for openai/ models). A local server (llama.cpp, vLLM, Ollama) accepts any "
            "key: api_key='dummy'",
            model=model,
        )
    if status == 408 or _network_failure(exc):
        what = "timed out" if _timed_out(exc) else "no answer" if stage is None else "connection lost"
        return ModelConnectionError(f"{where}: {what} ({when}): {exc}", model=model)
    if status is not None and 400 <= status < 500:
        return _client_error(exc, where, model, status)
    missing = next((link for link in _chain(exc) if isinstance(link, ImportError)), None)
    if missing is not None:
        return ModelRequestError(
            f"{where}: litellm could not import a module it needs ({missing}); "
            "install Kern with the litellm extra: pip install 'kern[litellm]'",
            model=model,
        )
    if status is not None and status >= 500 and _malformed(exc):
        return ModelRequestError(
            f"{where}: the server refused the request as one it cannot process (HTTP {status}, {when}; "
            f"not retried, the same request would fail again): {exc}",
            model=model,
            status_code=status,
        )
    if (status is not None and status >= 500) or _overloaded(exc):
        return ModelServerError(
            f"{where}: provider failed (HTTP {status}, {when}): {exc}", model=model, status_code=status
        )
    return ModelError(
        f"{where}: provider call failed (HTTP {status}, {when}): {exc}", model=model, status_code=status
    )


def _where(model: str, api_base: str | None) -> str:
    return f"model {model!r} at " + (api_base if api_base is not None else "the provider's default URL")


def _client_error(exc: Exception, where: str, model: str, status: int) -> ModelError:
    """The ModelError for a 4xx answer."""
    if status == 429:
        message = f"{where}: rate limited (HTTP 429): {exc}"
        return ModelRateLimitError(message, model=model, retry_after=_retry_after(exc))
    if status in (401, 403):
        message = f"{where}: credentials refused (HTTP {status}; check api_key): {exc}"
        return ModelAuthenticationError(message, model=model, status_code=status)
    message = f"{where}: request refused (HTTP {status}): {exc}"
    return ModelRequestError(message, model=model, status_code=status)


def _no_key(exc: Exception) -> bool:
    """Whether the OpenAI client refused to send the request for want of a key.

    That refusal is an ``openai.OpenAIError`` that is no ``APIError`` (no request was made), which
    litellm wraps into an HTTP 500 error.
    """
    import openai

    return any(
        isinstance(link, openai.OpenAIError)
        and not isinstance(link, openai.APIError)
        and type(link).__module__.startswith("openai")
        and "api_key" in str(link)
        for link in _chain(exc)
    )


def _malformed(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(hint in text for hint in _MALFORMED_HINTS)


def _timed_out(exc: Exception) -> bool:
    import httpx

    return any(isinstance(link, (httpx.TimeoutException, TimeoutError)) for link in _chain(exc)) or (
        "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
    )


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _network_failure(exc: Exception) -> bool:
    """Whether the call failed for want of an answer: refused, reset, timed out, unresolvable host.

    litellm reports some of these as HTTP 500 or 408 errors; the network error is in the chain.
    """
    import socket

    import httpx
    import openai

    network = (httpx.TransportError, ConnectionError, TimeoutError, socket.gaierror)
    return any(
        isinstance(link, network)
        or (isinstance(link, openai.APIConnectionError) and type(link).__module__.startswith("openai"))
        for link in _chain(exc)
    )


def _overloaded(exc: Exception) -> bool:
    text = str(exc).lower()
    return "overloaded" in text or "service unavailable" in text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _retry_after(exc: Exception) -> float | None:
    """The provider's ``retry-after-ms`` / ``Retry-After`` hint in seconds, when it sent one."""
    response = getattr(exc, "response", None)
    for headers in (getattr(exc, "litellm_response_headers", None), getattr(response, "headers", None)):
        if isinstance(headers, Mapping):
            hint = _parse_retry_after(
                {str(k).lower(): str(v) for k, v in cast(Mapping[Any, Any], headers).items()}
            )
            if hint is not None:
                return hint
    return None


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = _float(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(milliseconds / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is None:
        seconds = _seconds_until(value)
    return None if seconds is None else max(seconds, 0.0)


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now until an HTTP-date (``Retry-After: Wed, 21 Oct 2015 07:28:00 GMT``)."""
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


__all__ = ["LiteLLM"]
