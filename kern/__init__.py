"""Kern: an async runtime for Agents, Teams and Workflows that share one session model.

``import kern`` stays cheap: it imports no model provider SDK and makes no network call.
"""

from kern.exceptions import KernError

__version__ = "0.1.0"

__all__ = ["KernError", "__version__"]
