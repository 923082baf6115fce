"""Ready-to-run agent definitions built on Kern: the Taskboard (``python -m agents.taskboard``, the demo)
and the shopping-list manager of the session-state guide."""
