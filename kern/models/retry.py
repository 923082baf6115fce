"""Retrying model calls that failed for a reason that may pass: rate limits, server errors, no answer.

The one retry policy, applied by :func:`kern.models.call.call_model` to every model call Kern makes.
Whether an error is retried is its class's ``retryable`` (kern.exceptions; the provider boundary,
kern.models.litellm, picks the class). The delay doubles from ``base_delay`` with full jitter, capped at
``max_delay``; a provider's ``retry_after`` hint is honoured when it is longer. Errors that retrying
cannot fix (a request the server refused, a missing or refused key, an answer cut off, the call's
timeout spent) are raised at once.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from kern._private.log import get_logger
from kern.exceptions import ModelError, ModelRateLimitError

T = TypeVar("T")

log = get_logger(__name__)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    retries: int,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    can_retry: Callable[[], bool] = lambda: True,
) -> T:
    """Await ``call()``, retrying it up to ``retries`` times after a retryable ModelError.

    ``can_retry`` is asked after a failure; a streaming caller answers False once output reached its
    consumer, since a retry would repeat it.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except ModelError as error:
            if not error.retryable or attempt >= retries or not can_retry():
                raise
            delay = retry_delay(error, attempt, base_delay=base_delay, max_delay=max_delay)
            log.warning("model.retry", attempt=attempt + 1, delay=round(delay, 3), error=str(error))
            attempt += 1
            await anyio.sleep(delay)


def retry_delay(error: ModelError, attempt: int, *, base_delay: float, max_delay: float) -> float:
    """Seconds to wait before retry number ``attempt + 1``."""
    backoff = random.uniform(0, min(max_delay, base_delay * 2 ** min(attempt, 32)))
    hint = error.retry_after if isinstance(error, ModelRateLimitError) else None
    return max(backoff, min(hint, max_delay)) if hint is not None else backoff
