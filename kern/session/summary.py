"""Session summaries: a condensed account of a long conversation, updated after each run.

The update is incremental: the model gets the previous summary and the messages of the runs it does
not cover yet (normally just the run that finished), never the whole history. A summary records the
start of the last run it covers (``last_run_at``), so a run that shows the summary shows only the
history after it, and an update that lost a race is made good by the next one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pydantic

from kern._private.validate import check_instance, given
from kern.exceptions import UsageError
from kern.models.base import Model
from kern.models.message import Message
from kern.models.structured import ask_json
from kern.session.schema import SessionSummary

DEFAULT_SUMMARY_PROMPT = (
    "You keep a running summary of a conversation between a user and an assistant. You get the summary "
    "so far (if any) and the newest exchange. Answer with the updated summary: what the user wants, the "
    "facts and decisions that matter later, and open questions; drop small talk. Keep it under 200 words. "
    "Also list the conversation's main topics as a few short keywords."
)


class SummaryAnswer(pydantic.BaseModel):
    """What the model answers: the new summary text and its topics."""

    summary: str
    topics: list[str] = pydantic.Field(default_factory=list[str])


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummaryManager:
    """Updates a session's summary after a run. ``model=None``: the model of the Agent/Team it serves."""

    model: Model | None = None
    prompt: str = DEFAULT_SUMMARY_PROMPT

    def __post_init__(self) -> None:
        check_instance(self.model, Model, "model", "a Model or None", where="SessionSummaryManager")
        if not isinstance(self.prompt, str) or not self.prompt.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(
                f"SessionSummaryManager: prompt must be a non-empty str, got {given(self.prompt)}"
            )

    async def summarize(
        self,
        previous: SessionSummary | None,
        messages: Sequence[Message],
        *,
        last_run_at: float | None,
        fallback_model: Model,
    ) -> SessionSummary:
        """The summary of the conversation: ``previous`` updated with ``messages`` (the runs after it, of
        which the newest started at ``last_run_at``)."""
        exchange = "\n".join(
            f"{m.role}: {m.content}" for m in messages if m.role in ("user", "assistant") and m.content
        )
        so_far = previous.summary if previous is not None else "(none yet)"
        request = [
            Message(role="system", content=self.prompt),
            Message(
                role="user",
                content=f"<summary_so_far>\n{so_far}\n</summary_so_far>\n\n<newest_exchange>\n{exchange}\n</newest_exchange>",
            ),
        ]
        answer = await ask_json(self.model or fallback_model, request, SummaryAnswer)
        return SessionSummary(
            summary=answer.summary,
            topics=answer.topics,
            updated_at=int(time.time()),
            last_run_at=last_run_at,
        )
