"""Every error Kern raises, rooted at :class:`KernError`.

The tree::

    KernError
    ├── UsageError                  the caller used Kern wrongly (bad argument, bad combination)
    ├── StateSerializationError     a session_state value the codec cannot store; names the key path
    ├── ToolCallError               the model's tool call cannot run (unknown tool, bad arguments, timeout)
    ├── RunTimeoutError             the run did not finish within its ``timeout``; recorded cancelled
    ├── SessionError                something about one session forbids the operation
    │   ├── SessionOwnershipError   the session belongs to another user; nothing was written
    │   ├── SessionBusyError        another run holds the session (on_busy="reject" or busy_timeout passed)
    │   └── ClaimLostError          this run's claim expired and was taken over; its writes are refused
    ├── StorageError                the database failed; a failed read is never "not found"
    │   └── SchemaVersionError      the database schema is not the one this Kern needs
    ├── WorkflowError               a workflow cannot run or resume as asked (changed since the run, bad YAML)
    │   └── WorkflowDefinitionError a workflow file is invalid; names the file, the YAML path and the line
    └── ModelError                  the model provider failed or answered unusably
        ├── ModelRateLimitError     429: retried with backoff, honouring ``retry_after``
        ├── ModelServerError        5xx or overloaded: retried with backoff
        ├── ModelConnectionError    no answer (refused, reset, stream broken): retried with backoff
        │   └── ModelTimeoutError   the model's ``timeout`` passed (the whole call, retries included)
        ├── ModelAuthenticationError  401/403, or no key given: never retried; says what to set
        ├── ModelRequestError       the provider refused the request (4xx, a 5xx saying it is malformed,
        │                           unknown model, context too long); never retried
        └── ModelOutputError        the answer is unusable: a tool call cut off at ``max_tokens``
                                    (finish_reason "length"), or not the run's output_schema

Database driver and SQLAlchemy errors are translated to :class:`StorageError` at one boundary
(``kern.db._sql.executor``), provider and litellm errors to :class:`ModelError` at another
(``kern.models.litellm``), each with the original chained as ``__cause__``. An exception a tool raises
is not a Kern error: the model sees it as the tool's error result and the run goes on.
"""

from __future__ import annotations


class KernError(Exception):
    """Base class of every error Kern raises."""


class UsageError(KernError, ValueError):
    """The caller passed a bad argument or combination; the message says which and why."""


class StateSerializationError(KernError, TypeError):
    """A value in session state cannot be stored by the codec.

    ``path`` names where it sits, e.g. ``session_state.tasks[2].due``.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ToolCallError(KernError):
    """A tool call the model made cannot be executed as asked: unknown tool, unparseable or invalid arguments.

    The run does not fail: the model sees the message as the call's error result and can correct itself.
    """


class RunTimeoutError(KernError, TimeoutError):
    """A run did not finish within the ``timeout`` it was given; it was stopped and recorded ``cancelled``
    with the reason, keeping what it had committed."""


class SessionError(KernError):
    """An operation on one session was refused."""

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionOwnershipError(SessionError):
    """The session (or user memory) is owned by another user; the operation wrote nothing."""


class SessionBusyError(SessionError):
    """Another run holds the session's claim."""


class ClaimLostError(SessionError):
    """This run's claim on the session was taken over after it expired; its writes were refused."""


class StorageError(KernError):
    """The database failed to read or write. Never means "not found"."""


class SchemaVersionError(StorageError):
    """The database is not at the schema revision this version of Kern needs."""


class ModelError(KernError):
    """The model call failed. ``retryable`` says whether trying again may help.

    ``partial_content`` is the text the model had produced before the failure (a stream that broke,
    an answer cut off), or None; a failed run keeps it as its last, incomplete assistant message.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status_code: int | None = None,
        partial_content: str | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.status_code = status_code
        self.partial_content = partial_content


class ModelRateLimitError(ModelError):
    """The provider answered 429; ``retry_after`` is its hint in seconds, when it gave one."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, model=model, status_code=status_code)
        self.retry_after = retry_after


class ModelServerError(ModelError):
    """The provider failed (5xx, overloaded)."""

    retryable = True


class ModelConnectionError(ModelError):
    """The provider could not be reached, or its answer broke off (the message says how far it got)."""

    retryable = True


class ModelTimeoutError(ModelConnectionError, TimeoutError):
    """A model call did not finish within the model's ``timeout``.

    The timeout bounds the whole call (every attempt and the waits between them, a stream from its
    first byte to its last), so it is not retried: the call's time is spent.
    """

    retryable = False


class ModelAuthenticationError(ModelError):
    """The provider refused the credentials, or none were given (the message says what to set)."""


class ModelRequestError(ModelError):
    """The provider refused the request itself (bad request, unknown model, context too long)."""


class ModelOutputError(ModelError):
    """The model's answer cannot be used: cut off by the token limit (``finish_reason`` "length") in
    the middle of a tool call, or not parseable into the requested ``output_schema``."""


__all__ = [
    "ClaimLostError",
    "KernError",
    "ModelAuthenticationError",
    "ModelConnectionError",
    "ModelError",
    "ModelOutputError",
    "ModelRateLimitError",
    "ModelRequestError",
    "ModelServerError",
    "ModelTimeoutError",
    "SchemaVersionError",
    "SessionBusyError",
    "SessionError",
    "SessionOwnershipError",
    "StateSerializationError",
    "StorageError",
    "ToolCallError",
    "UsageError",
]


class WorkflowError(KernError):
    """A workflow cannot run or resume as asked: the message says which step and why."""


class WorkflowDefinitionError(WorkflowError, UsageError):
    """A workflow file is invalid: the message names the file, the YAML path and the line."""
