"""Errors raised by the virtual labs. `SimulatorError` is the root of this package."""

from retort.errors import RetortError


class SimulatorError(RetortError):
    """Root of every error raised by `retort.simulators`."""


class SimulationInputError(ValueError, SimulatorError):
    """A virtual lab was asked for something it cannot simulate (unknown function, stock or dataset,
    a point outside its data); the message names it."""


class DatasetError(ValueError, SimulatorError):
    """A dataset file that cannot be read or does not describe a grid or an emulator."""
