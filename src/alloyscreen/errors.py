"""Errors raised for bad input or an unusable environment: one clear line each."""


class AlloyscreenError(ValueError):
    """A user-facing error whose message names the bad value and what is allowed."""


class DatabaseError(AlloyscreenError):
    """The database cannot be reached, refused the credentials or rejected a document."""
