"""OpenAI by name: :class:`OpenAIChat` and :class:`OpenAIResponses`, thin faces over :class:`LiteLLM`.

They exist so the common case reads as what it is (``OpenAIChat("gpt-4o-mini")``) and picks up the
standard ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` environment variables, which also points them at any
OpenAI-compatible server (vLLM, llama.cpp, Ollama, the test suite's loopback server).
"""

from __future__ import annotations

import os
from typing import Any

from kern._private.validate import given
from kern.exceptions import UsageError
from kern.models.litellm import LiteLLM


class OpenAIChat(LiteLLM):
    """An OpenAI model over the chat-completions API (litellm's ``"openai/" + id``).

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, read when the
    model is built; arguments given explicitly win. ``settings`` go to every call, as for LiteLLM.
    """

    _prefix = "openai/"

    def __init__(
        self,
        id: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        retries: int = 2,
        timeout: float | None = None,
        **settings: Any,
    ) -> None:
        if not isinstance(id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(
                f"{type(self).__name__}: id must be a model name str, e.g. 'gpt-4o-mini', got {given(id)}"
            )
        super().__init__(
            self._prefix + id,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or None,
            retries=retries,
            timeout=timeout,
            **settings,
        )


class OpenAIResponses(OpenAIChat):
    """The name for OpenAI's Responses-API models; it speaks chat completions too, as OpenAIChat does.

    Kern's conversation is a list of chat messages, so both faces send the same chat-completions
    request; this one exists so code written against the Responses-API name runs unchanged.
    """


__all__ = ["OpenAIChat", "OpenAIResponses"]
