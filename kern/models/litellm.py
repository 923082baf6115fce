"""LiteLLM: Kern's general model, for every provider litellm speaks and any OpenAI-compatible server.

Three things happen here and nowhere else. litellm is imported lazily, on the first call and in a
worker thread: the import takes seconds, and unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set it fetches a
price list from the network. litellm's and the OpenAI client's own retries are off, because the run
loop retries (``model.retries`` through :func:`kern.models.retry.with_retries`): a failing call reaches
the provider exactly once. And provider errors become :class:`~kern.exceptions.ModelError` subclasses
(:func:`model_error`), the original chained as ``__cause__``.
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
_SECRET_HINTS = ("key", "token", "secret", "auth", "password", "header")


class LiteLLM(Model):
    """A model answered through ``litellm.acompletion``; ``id`` is litellm's ``"provider/model"``.

    ``api_base`` (alias ``base_url``) and ``api_key`` point it at any OpenAI-compatible server (vLLM,
    llama.cpp, Ollama); ``timeout`` bounds each call, in seconds; ``settings`` (``temperature``,
    ``max_tokens``, ...) go to litellm unchanged on every call. Immutable, so one instance can be shared
    by concurrent runs.
    """

    _prefix = ""  # what a named face adds in front of the id its caller gave

    _api_base: str | None
    _api_key: str | None
    _timeout: float | None
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
        _check_arguments(id, api_base, base_url, retries, timeout, settings)
        values = {
            "id": id,
            "retries": retries,
            "_api_base": api_base or base_url,
            "_api_key": api_key,
            "_timeout": timeout,
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
    def timeout(self) -> float | None:
        """Seconds one call may take, or None for litellm's default."""
        return self._timeout

    @property
    def settings(self) -> Mapping[str, Any]:
        """The extra arguments passed to litellm on every call (read-only)."""
        return self._settings

    def __repr__(self) -> str:
        parts = [repr(self.id.removeprefix(self._prefix))]
        if self._api_base is not None:
            parts.append(f"api_base={self._api_base!r}")
        if self._api_key is not None:
            parts.append("api_key='***'")
        parts.append(f"retries={self.retries!r}")
        if self._timeout is not None:
            parts.append(f"timeout={self._timeout!r}")
        parts += [f"{name}={_shown(name, value)!r}" for name, value in self._settings.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    async def response(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        output_schema: type[BaseModel] | None = None,
    ) -> ModelResponse:
        """Answer the conversation in one piece."""
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
        try:
            async for chunk in chunks:
                delta = parse_chunk(chunk)
                if delta is not None:
                    yield delta
        except Exception as exc:
            error = model_error(exc, self.id)
            if error is None:
                raise
            raise error from exc
        finally:
            await _close(chunks)

    async def _call(self, request: dict[str, Any]) -> Any:
        """``litellm.acompletion(**request)``, its failure raised as a ModelError."""
        litellm = await _litellm()
        try:
            return await litellm.acompletion(**request)
        except Exception as exc:
            error = model_error(exc, self.id)
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
        optional = {"api_base": self._api_base, "api_key": self._api_key, "timeout": self._timeout}
        request |= {name: value for name, value in optional.items() if value is not None}
        if tools:
            request["tools"] = tools_to_openai(tools)
        if output_schema is not None:
            request["response_format"] = response_format(output_schema)
        if stream:
            request |= {"stream": True, "stream_options": {"include_usage": True}}
        return request


def _check_arguments(
    id: str,
    api_base: str | None,
    base_url: str | None,
    retries: int,
    timeout: float | None,
    settings: Mapping[str, Any],
) -> None:
    if not id or id.endswith("/"):
        raise UsageError("a model id is required, e.g. 'openai/gpt-4o-mini'")
    if api_base is not None and base_url is not None and api_base != base_url:
        raise UsageError(f"api_base={api_base!r} and base_url={base_url!r} disagree; pass one of them")
    if retries < 0:
        raise UsageError(f"retries must be 0 or more, got {retries}")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"timeout must be positive seconds, got {timeout}")
    reserved = sorted(_RESERVED & settings.keys())
    if reserved:
        raise UsageError(
            f"{', '.join(reserved)} cannot be passed as settings: Kern sets them on each call "
            "(use the constructor's api_base/api_key/timeout/retries)"
        )


def _shown(name: str, value: Any) -> Any:
    """A setting as ``repr`` shows it: hidden when its name suggests a secret."""
    return "***" if any(hint in name.lower() for hint in _SECRET_HINTS) else value


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


def model_error(exc: Exception, model: str) -> ModelError | None:
    """The ModelError for a failed provider call, or None when ``exc`` is not a provider error."""
    import httpx
    import openai

    if not isinstance(exc, (openai.OpenAIError, httpx.HTTPError, ConnectionError, TimeoutError, ImportError)):
        return None
    status = _status(exc)
    if status == 408 or _network_failure(exc):
        return ModelConnectionError(f"model {model!r}: no answer from the provider: {exc}", model=model)
    if status is not None and 400 <= status < 500:
        return _client_error(exc, model, status)
    missing = next((link for link in _chain(exc) if isinstance(link, ImportError)), None)
    if missing is not None:
        return ModelRequestError(
            f"model {model!r}: litellm could not import a module it needs ({missing}); "
            "install Kern with the litellm extra: pip install 'kern[litellm]'",
            model=model,
        )
    if (status is not None and status >= 500) or _overloaded(exc):
        return ModelServerError(
            f"model {model!r}: provider failed (HTTP {status}): {exc}", model=model, status_code=status
        )
    return ModelError(
        f"model {model!r}: provider call failed (HTTP {status}): {exc}", model=model, status_code=status
    )


def _client_error(exc: Exception, model: str, status: int) -> ModelError:
    """The ModelError for a 4xx answer."""
    if status == 429:
        message = f"model {model!r}: rate limited (HTTP 429): {exc}"
        return ModelRateLimitError(message, model=model, retry_after=_retry_after(exc))
    if status in (401, 403):
        message = f"model {model!r}: credentials refused (HTTP {status}): {exc}"
        return ModelAuthenticationError(message, model=model, status_code=status)
    return ModelRequestError(
        f"model {model!r}: request refused (HTTP {status}): {exc}", model=model, status_code=status
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
