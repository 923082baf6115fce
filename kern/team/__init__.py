"""Teams: a coordinator model that delegates to member Agents (or Teams) sharing one session state."""

from kern.team.team import Team, TeamMode

__all__ = ["Team", "TeamMode"]
