"""Errors raised by planners and search spaces. `AgentError` is the root of this package."""

from retort.errors import RetortError


class AgentError(RetortError):
    """Root of every error raised by `retort.agents`."""


class SpaceError(ValueError, AgentError):
    """A search space that is malformed or that no point can satisfy, or a point outside it."""


class PlanningError(AgentError):
    """A planner could not produce the requested proposals."""
