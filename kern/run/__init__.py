"""Per-run objects shared by Agents, Teams and Workflows."""

from kern.run.status import RunStatus

__all__ = ["RunStatus"]
