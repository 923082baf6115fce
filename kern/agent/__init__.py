"""Agents: a model with tools and instructions, run on persistent sessions."""

from kern.agent.agent import Agent

__all__ = ["Agent"]
