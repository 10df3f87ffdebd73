"""Text on its way to a terminal or a line-oriented reader, made safe to show.

Names come from whoever uploads or writes to a queue: an object key may hold an ESC sequence
that recolours the terminal or moves its cursor, a newline that forges a table row, a
bidirectional override that shows a name backwards, or U+2028, U+2029 or U+0085, which
Python's ``splitlines()`` and several log shippers take for line ends.

* :func:`shown` is for human output (tables, progress, error lines): every character Python
  does not call printable (``str.isprintable``: controls, format characters such as the bidi
  overrides, line and paragraph separators, surrogates, private-use and unassigned code points,
  spaces other than ``' '``) is written as its escape (``\\x1b``, ``\\n``, ``\\u202e``), the
  way ``repr()`` writes it; everything else is left as it is.
* :func:`json_text` is for JSON already rendered with ``ensure_ascii=False`` (log lines,
  ``queue dump``): the same characters become ``\\u`` escapes, so the text still decodes to
  the same value and a one-line document stays one line whatever a string in it holds.
"""

from __future__ import annotations

from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: str) -> str:
    """``text`` with every non-printable character escaped (see the module docstring)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: East Asian wide and fullwidth characters
    (Chinese, Japanese, Korean) take two, combining marks none, every other one."""
    import unicodedata

    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def padded(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal columns (``str.ljust`` counts
    characters, so a column of Chinese names would push the next column out of line)."""
    return text + " " * max(0, width - columns(text))


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: JSON writes the UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(rendered: str) -> str:
    """A rendered JSON text with every non-printable character inside its strings as a
    ``\\u`` escape. Newlines are kept: outside strings they are the layout of an indented
    document (inside strings JSON has already escaped them)."""
    if rendered.isprintable():
        return rendered
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in rendered)


def json_line(value: Any, **dumps: Any) -> str:
    """``value`` as one line of JSON, safe for a terminal (non-ASCII text kept readable)."""
    import json

    return json_text(json.dumps(value, ensure_ascii=False, **dumps))
