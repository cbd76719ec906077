"""Errors raised by surrogate models. `SurrogateError` is the root of this package."""

from retort.errors import RetortError


class SurrogateError(RetortError):
    """Root of every error raised by `retort.surrogates`."""
