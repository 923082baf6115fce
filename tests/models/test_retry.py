"""with_retries and retry_delay: which model errors are retried, how often, and how long to wait."""

from __future__ import annotations

import random

import pytest

from kern.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
)
from kern.models.retry import retry_delay, with_retries


class Flaky:
    """A call that raises the given errors in turn, then returns "ok"; it counts its calls."""

    def __init__(self, *errors: ModelError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.anyio
async def test_success_is_returned_at_once() -> None:
    """A call that succeeds is made once."""
    call = Flaky()
    assert await with_retries(call, retries=2, base_delay=0) == "ok"
    assert call.calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error", [ModelRateLimitError("slow down"), ModelServerError("boom"), ModelConnectionError("no answer")]
)
async def test_retryable_errors_are_retried(error: ModelError) -> None:
    """Rate limits, server errors and connection failures are retried until the call succeeds."""
    call = Flaky(error, error)
    assert await with_retries(call, retries=2, base_delay=0) == "ok"
    assert call.calls == 3


@pytest.mark.anyio
async def test_gives_up_after_retries() -> None:
    """After ``retries`` retries the last error is raised."""
    last = ModelServerError("third")
    call = Flaky(ModelServerError("first"), ModelServerError("second"), last)
    with pytest.raises(ModelServerError) as caught:
        await with_retries(call, retries=2, base_delay=0)
    assert (caught.value, call.calls) == (last, 3)


@pytest.mark.anyio
async def test_zero_retries_means_one_attempt() -> None:
    """retries=0 makes exactly one attempt."""
    call = Flaky(ModelServerError("boom"))
    with pytest.raises(ModelServerError):
        await with_retries(call, retries=0, base_delay=0)
    assert call.calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize("error", [ModelRequestError("bad request"), ModelAuthenticationError("bad key")])
async def test_unretryable_errors_are_raised_at_once(error: ModelError) -> None:
    """Errors retrying cannot fix are raised on the first failure."""
    call = Flaky(error)
    with pytest.raises(type(error)):
        await with_retries(call, retries=5, base_delay=0)
    assert call.calls == 1


@pytest.mark.anyio
async def test_other_exceptions_are_not_retried() -> None:
    """An exception that is not a ModelError propagates at once."""
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await with_retries(broken, retries=3, base_delay=0)
    assert calls == 1


@pytest.mark.parametrize("attempt", [0, 1, 2, 3])
def test_backoff_doubles_with_full_jitter(monkeypatch: pytest.MonkeyPatch, attempt: int) -> None:
    """The delay is drawn from [0, base_delay * 2**attempt]."""
    bounds: list[tuple[float, float]] = []
    monkeypatch.setattr(random, "uniform", lambda low, high: bounds.append((low, high)) or high)
    delay = retry_delay(ModelServerError("boom"), attempt, base_delay=0.5, max_delay=30)
    assert (bounds, delay) == ([(0, 0.5 * 2**attempt)], 0.5 * 2**attempt)


def test_backoff_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The delay never exceeds max_delay, however many attempts were made."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert retry_delay(ModelServerError("boom"), 20, base_delay=0.5, max_delay=30) == 30


def test_longer_retry_after_hint_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rate limit's retry_after is waited when it is longer than the backoff."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    error = ModelRateLimitError("slow down", retry_after=7.5)
    assert retry_delay(error, 0, base_delay=0.5, max_delay=30) == 7.5


def test_shorter_retry_after_hint_keeps_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hint shorter than the backoff does not shorten the wait."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    error = ModelRateLimitError("slow down", retry_after=0.1)
    assert retry_delay(error, 2, base_delay=0.5, max_delay=30) == 2.0


def test_retry_after_hint_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hint longer than max_delay is cut to max_delay."""
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    error = ModelRateLimitError("slow down", retry_after=3600)
    assert retry_delay(error, 0, base_delay=0.5, max_delay=30) == 30
