"""Tools: Python functions the model can call, with the runtime's state injected.

``@tool`` (or a plain function) becomes a :class:`Function`; a :class:`Toolkit` groups several;
:func:`resolve_tools` turns what an Agent was given into Functions, and :func:`format_result` turns what a
tool returned into the text the model reads.
"""

from kern.tools.function import Function, Injected, format_result, resolve_tools, tool
from kern.tools.toolkit import Toolkit

__all__ = ["tool", "Function", "Toolkit", "Injected", "resolve_tools", "format_result"]
