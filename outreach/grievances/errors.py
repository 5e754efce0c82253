"""Errors the grievance operations raise; each message is fit to show to the person who acted."""

from __future__ import annotations


class GrievanceError(ValueError):
    """An operation on a grievance was refused; ``str(error)`` says why, in the current language."""


class NotAllowed(GrievanceError):
    """The actor's role does not allow this operation (a web view answers 403, the API 403)."""


class TransitionError(GrievanceError):
    """The status change is not in the allowed-transition table, or someone else changed it first."""


class ValidationError(GrievanceError):
    """Bad input. ``errors`` maps each field name to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
