"""Errors raised by surrogate models. `SurrogateError` is the root of this package."""


class SurrogateError(Exception):
    """Root of every error raised by `retort.surrogates`."""
