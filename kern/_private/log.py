"""Kern's loggers: structlog bound loggers that emit through the standard library's logging.

The library never configures logging. Each event goes to ``logging.getLogger(<module>)`` with its
key/value pairs in ``extra``, so it is silent until the application configures logging, and an
application that uses structlog's ``ProcessorFormatter`` gets the structured fields back. ``run_id`` and
``session_id`` are bound once per run through structlog's contextvars (:func:`bound_run`).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.stdlib import BoundLogger, filter_by_level, render_to_log_kwargs


def get_logger(name: str) -> BoundLogger:
    """A logger for module ``name`` that emits through ``logging.getLogger(name)``."""
    logger: BoundLogger = structlog.wrap_logger(
        logging.getLogger(name),
        processors=[filter_by_level, merge_contextvars, render_to_log_kwargs],
        wrapper_class=BoundLogger,
    )
    return logger


def bound_run(*, run_id: str, session_id: str) -> AbstractContextManager[None]:
    """Bind ``run_id`` and ``session_id`` to every Kern log event emitted inside the block."""
    return bound_contextvars(run_id=run_id, session_id=session_id)
