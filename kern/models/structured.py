"""Asking a model for one JSON object of a given shape: what summaries and memories need of a model.

The call is made as the run loop makes its calls (kern.models.call: the model's retries and timeout).
The answer is parsed into the pydantic model (a ```json fence around it is tolerated); an answer that
does not fit raises ModelOutputError naming the model and the shape (and the token limit, when the
answer was cut off by it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pydantic

from kern.exceptions import ModelOutputError
from kern.models.answer import truncation_note
from kern.models.base import Model
from kern.models.call import call_model
from kern.models.message import Message

T = TypeVar("T", bound=pydantic.BaseModel)


async def ask_json(model: Model, messages: Sequence[Message], shape: type[T]) -> T:
    """The model's answer to ``messages`` as a ``shape``."""
    response = await call_model(model, messages, output_schema=shape)
    text = strip_fence(response.content or "")
    try:
        return shape.model_validate_json(text)
    except pydantic.ValidationError as error:
        note = truncation_note(response.finish_reason)
        raise ModelOutputError(
            f"the answer of {model.describe()} is not a {shape.__name__}{note}: {error}", model=model.id
        ) from error


def strip_fence(text: str) -> str:
    """Models often wrap JSON in a ```json fence; the JSON is what is inside."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        return stripped.rsplit("```", 1)[0]
    return stripped
