"""Errors raised by the store."""

from __future__ import annotations


class ValidationError(ValueError):
    """A message is malformed; ``pointer`` is the JSON pointer of the bad field (``/batch/3/event``)."""

    def __init__(self, pointer: str, message: str):
        self.pointer = pointer
        self.message = message
        super().__init__(f"{pointer}: {message}")
