"""Workflows: steps of agents, teams and functions on one session, journaled and resumable."""

from kern.workflow.composite import Condition, Loop, Parallel, Router, Steps
from kern.workflow.step import Step, StepInput, StepOutput
from kern.workflow.workflow import Workflow

__all__ = ["Condition", "Loop", "Parallel", "Router", "Step", "StepInput", "StepOutput", "Steps", "Workflow"]
