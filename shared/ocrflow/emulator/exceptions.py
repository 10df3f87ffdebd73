"""The emulator's one exception: an answer decided before the end (the service's error)."""

from __future__ import annotations


class Answer(Exception):
    """An answer decided early (an error)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
