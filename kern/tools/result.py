"""The text a model reads for what a tool returned.

A tool returns any Python value but a model reads text. Structured values become JSON, which models read
reliably and which keeps field names; a value JSON cannot hold is written with ``str`` rather than failing
the call after the tool has already run.
"""

from __future__ import annotations

import dataclasses

import pydantic_core
from pydantic import BaseModel


def format_result(value: object) -> str:
    """The text the model sees for a tool's return value.

    A str is unchanged and None is empty; pydantic models, dataclass instances, dicts, lists, tuples and
    sets are JSON (values JSON cannot hold are written with ``str``); anything else is ``str(value)``.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, BaseModel | dict | list | tuple | set | frozenset) or _is_dataclass_instance(value):
        return pydantic_core.to_json(value, fallback=str).decode()
    return str(value)


def _is_dataclass_instance(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)
