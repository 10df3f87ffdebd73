"""JSON from untrusted text, bounded in size, nesting depth and number forms.

The standard parser recurses once per nesting level (``[`` × 50,000 is a RecursionError),
accepts ``Infinity``/``NaN`` and turns ``1e999`` into an infinite float, and refuses integers
of more than 4,300 digits with a ValueError only after reading them. Here every one of these
is a :class:`JsonRejected` with a short reason, decided before or while parsing.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

#: Deep enough for every event shape and configuration document ocrflow reads (an S3
#: notification is 5 levels deep); far below the interpreter's recursion limit.
MAX_DEPTH = 64
#: An object size needs 13 digits (5 TB); nothing ocrflow reads needs more than this.
MAX_INT_DIGITS = 32
MAX_FLOAT_CHARS = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonRejected(ValueError):
    """The text is not JSON within the bounds; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings ignored)."""
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not skeleton:
        return 0
    return max(accumulate(_STEP[c] for c in skeleton))


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonRejected(f"a number has {len(literal.lstrip('-'))} digits")
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_FLOAT_CHARS:
        raise JsonRejected(f"a number is {len(literal)} characters long")
    value = float(literal)
    if not math.isfinite(value):
        raise JsonRejected(f"the number {literal[:20]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number")


def loads(text: str | bytes | bytearray, max_chars: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parses ``text``; raises :class:`JsonRejected` (a ValueError) for anything that is not
    JSON within the bounds. Bytes must be UTF-8."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_chars:
            raise JsonRejected(f"{len(text)} bytes; at most {max_chars}")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRejected(f"not UTF-8 (byte {exc.start})") from None
    if len(text) > max_chars:
        raise JsonRejected(f"{len(text)} characters; at most {max_chars}")
    # the scan costs more than the parse; fewer openings than the bound cannot exceed it
    # (a single S3 notification has about a dozen)
    openings = text.count("[") + text.count("{")
    depth = nesting_depth(text) if openings > max_depth else 0
    if depth > max_depth:
        raise JsonRejected(f"nested {depth} levels deep; at most {max_depth}")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except JsonRejected:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRejected(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, RecursionError) as exc:  # defence in depth: the bounds above hold
        raise JsonRejected(f"not JSON ({type(exc).__name__})") from None
