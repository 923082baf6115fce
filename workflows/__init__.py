"""Workflow definitions, runnable with ``kern workflow run`` from the repository root.

``research.yaml`` (YAML) answers a question about Kern from its own README and docs;
``taskboard_review.py`` (Python) puts a list of tasks on a board and has an agent start the most urgent
one. ``steps.py`` holds the functions the YAML one names by import path.
"""
