"""One model call as Kern makes it: the retry policy, the timeout, and a streamed answer assembled.

Every call Kern makes goes through :func:`call_model` (the run loop, summaries, memories), so a model's
``retries``, ``retry_delay`` and ``timeout`` mean the same everywhere:

* a call that failed with a retryable :class:`~kern.exceptions.ModelError` is tried again
  (:func:`kern.models.retry.with_retries`), unless text of a streamed answer already reached the
  consumer, which a retry would repeat;
* ``timeout`` bounds the whole call: every attempt, the waits between them, and a streamed answer
  from the request to its last delta however slowly it trickles (waiting for a slow consumer of the
  text included). Then :class:`~kern.exceptions.ModelTimeoutError` says how far the call got;
* an error part-way through a stream carries the text received so far as ``partial_content``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from pydantic import BaseModel

from kern.exceptions import ModelError, ModelTimeoutError
from kern.models.base import Model, ModelResponse, ResponseAssembler, ToolDefinition
from kern.models.message import Message
from kern.models.retry import with_retries

OnText = Callable[[str], Awaitable[None]]
"""Where the text of a streamed answer goes, piece by piece, as it arrives."""


async def call_model(
    model: Model,
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolDefinition] = (),
    output_schema: type[BaseModel] | None = None,
    stream: bool = False,
    on_text: OnText | None = None,
    retries: int | None = None,
) -> ModelResponse:
    """The model's answer to ``messages``, retried and bounded as the model says.

    With ``stream``, the answer is asked for as a stream, each piece of text handed to ``on_text`` as
    it comes, and assembled. ``retries`` overrides the model's (a definition's own setting).
    """
    progress = _Progress(stream=stream)

    async def attempt() -> ModelResponse:
        progress.attempts += 1
        if not stream:
            return await model.response(messages, tools=tools, output_schema=output_schema)
        assembler = progress.assembler = ResponseAssembler()
        progress.deltas = 0
        deltas = model.stream(messages, tools=tools, output_schema=output_schema)
        try:
            async for delta in deltas:
                progress.deltas += 1
                assembler.add(delta)
                if delta.content and on_text is not None:
                    progress.emitted = True
                    await on_text(delta.content)
        except ModelError as error:
            if error.partial_content is None and assembler.text:
                error.partial_content = assembler.text
            raise
        finally:  # close the provider's stream now, in this task, not whenever it is collected
            if (close := getattr(deltas, "aclose", None)) is not None:
                await close()
        return assembler.build()

    with anyio.move_on_after(model.timeout):  # None: no limit
        return await with_retries(
            attempt,
            retries=model.retries if retries is None else retries,
            base_delay=model.retry_delay,
            can_retry=lambda: not progress.emitted,
        )
    text = progress.assembler.text if progress.assembler is not None else ""
    raise ModelTimeoutError(
        f"{model.describe()}: timed out after {model.timeout}s ({progress.describe()})",
        model=model.id,
        partial_content=text or None,
    )


@dataclass(slots=True)
class _Progress:
    """How far one call got: attempts made, and the deltas of the last attempt's stream."""

    stream: bool
    attempts: int = 0
    deltas: int = 0
    emitted: bool = False
    assembler: ResponseAssembler | None = None

    def describe(self) -> str:
        made = f"{self.attempts} attempt{'' if self.attempts == 1 else 's'}"
        if not self.stream:
            return made
        if self.deltas == 0:
            return f"{made}; the last stream had not delivered a delta"
        return f"{made}; the last stream had delivered {self.deltas} delta{'' if self.deltas == 1 else 's'}"
