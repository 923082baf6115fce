"""Every error Kern raises, rooted at :class:`KernError`.

The tree::

    KernError
    ├── UsageError                  the caller used Kern wrongly (bad argument, bad combination)
    ├── StateSerializationError     a session_state value the codec cannot store; names the key path
    ├── SessionError                something about one session forbids the operation
    │   ├── SessionOwnershipError   the session belongs to another user; nothing was written
    │   ├── SessionBusyError        another run holds the session (on_busy="reject" or busy_timeout passed)
    │   └── ClaimLostError          this run's claim expired and was taken over; its writes are refused
    └── StorageError                the database failed; a failed read is never "not found"
        └── SchemaVersionError      the database schema is not the one this Kern needs

Database driver and SQLAlchemy errors are translated to :class:`StorageError` at one boundary
(``kern.db._sql.executor``) with the original chained as ``__cause__``.
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


class SessionError(KernError):
    """An operation on one session was refused."""

    def __init__(self, message: str, *, session_id: str) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionOwnershipError(SessionError):
    """The session is owned by another user; the operation wrote nothing."""


class SessionBusyError(SessionError):
    """Another run holds the session's claim."""


class ClaimLostError(SessionError):
    """This run's claim on the session was taken over after it expired; its writes were refused."""


class StorageError(KernError):
    """The database failed to read or write. Never means "not found"."""


class SchemaVersionError(StorageError):
    """The database is not at the schema revision this version of Kern needs."""


__all__ = [
    "ClaimLostError",
    "KernError",
    "SchemaVersionError",
    "SessionBusyError",
    "SessionError",
    "SessionOwnershipError",
    "StateSerializationError",
    "StorageError",
    "UsageError",
]
