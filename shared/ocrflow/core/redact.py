"""The one redaction of credentials for every message, log line and exception text.

Three kinds of secret can reach a text:

* a URL with ``user:password@`` (a queue, store or endpoint URL quoted in an error). The
  password may hold ``@ : / # %`` unencoded, so the userinfo runs to the *last* ``@`` of the
  URL, never to the first ``/`` or ``#`` as a URL parser would read it;
* a known secret value anywhere, alone or in part: the AK/SK, tokens and URL passwords are
  registered when the configuration is read or credentials are used, together with their
  percent-decoded forms and the pieces between delimiters (a library that split a password at
  ``#`` or ``/`` quotes only a piece of it, in a port or path error);
* request headers echoed back by a server: ``Authorization`` (``Access=…``, ``Signature=…``),
  ``X-Auth-Token``, ``X-Security-Token`` and IAM tokens (``MII…``).

Redacting too much is harmless; this module errs on that side.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import unquote

MASK = "***"
#: Shorter pieces of a password are not registered on their own: they would mask ordinary
#: words and numbers everywhere.
MIN_PIECE = 4

_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s<>]+)")
_DELIMITERS = re.compile(r"[@:/#%?&;=\s]+")
_AUTHORITY_END = re.compile(r"[/?#]")
_HEADERS = [
    (re.compile(r"(?i)\b(Access|Signature|Credential|SignedHeaders)=[^,\s\"'}]+"), r"\1=" + MASK),
    # no \b: a key may end a longer name (aws_secret_access_key=…)
    (re.compile(r"(?i)(authorization|x-auth-token|x-security-token|x-subject-token|"
                r"x-amz-security-token|x-amz-signature|security[_-]?token|secret[_-]?key|"
                r"secret|access[_-]?key|sasl\.password|password|passwd|pwd|token)"
                r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)(?:SDK-HMAC-SHA256\s+|Bearer\s+|Basic\s+)?"
                r"[^\s\"',;}\\]+"), r"\1\2" + MASK),
    (re.compile(r"\bMII[A-Za-z0-9+/=_\-]{60,}"), MASK),  # Keystone/IAM token bodies
]

_HEADER_HINTS = ("access", "signature", "credential=", "signedheaders=", "authorization",
                 "token", "secret", "passw", "pwd")

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None


def register(*values: str | None) -> None:
    """Remembers secret values (whole) so that :func:`text` masks them wherever they show."""
    fresh = {v for v in values if v and len(v) >= MIN_PIECE} - _secrets
    fresh |= {unquote(v) for v in fresh if len(unquote(v)) >= MIN_PIECE}
    _add(fresh)


def _forms(value: str) -> set[str]:
    """A secret as it may appear: itself, and escaped inside a JSON string (log lines are
    redacted once rendered)."""
    return {value, json.dumps(value, ensure_ascii=False)[1:-1]}


def register_password(password: str | None) -> None:
    """A password and every piece of it between delimiters (see the module doc)."""
    if not password:
        return
    pieces = {password, unquote(password)}
    for form in list(pieces):
        pieces.update(p for p in _DELIMITERS.split(form) if len(p) >= MIN_PIECE)
    _add({p for p in pieces if len(p) >= MIN_PIECE} - _secrets)


def register_url(value: str | None) -> None:
    """Registers the password of a URL (if it carries one)."""
    if value:
        register_password(url_password(value))


def _add(fresh: set[str]) -> None:
    global _secret_re
    fresh = {form for value in fresh for form in _forms(value)} - _secrets
    if not fresh:
        return
    with _lock:
        _secrets.update(fresh)
        # longest first, so a whole password is masked before its pieces
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def forget() -> None:
    """Drops every registered secret (tests)."""
    global _secret_re
    with _lock:
        _secrets.clear()
        _secret_re = None


def _split_userinfo(rest: str) -> tuple[str, str] | None:
    """``rest`` is what follows ``scheme://``; returns (userinfo, after), or None when there
    is no userinfo. With a ``:`` before the first ``/``, ``?`` or ``#`` (``user:password``)
    the userinfo runs to the last ``@``, so a password may hold any of them unencoded;
    without one, an ``@`` there ends a user name (a token), and an ``@`` only further on is
    part of the path or query."""
    if rest.startswith("/"):
        return None  # scheme:///path: no authority at all
    userinfo, at, after = rest.rpartition("@")
    if not at:
        return None
    head = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if ":" not in head:
        if "@" not in head:
            return None
        userinfo, _, after = rest.partition("@")
    return userinfo, after


def url_password(value: str) -> str | None:
    """The password of ``scheme://user:password@host…``, read the redacting way: the userinfo
    ends at the last ``@``."""
    m = _URL.search(value)
    if m is None:
        return None
    split = _split_userinfo(m.group("rest"))
    if split is None:
        return None
    user, colon, password = split[0].partition(":")
    return password if colon else (user or None)


def _mask_url(m: re.Match[str]) -> str:
    split = _split_userinfo(m.group("rest"))
    if split is None:
        return m.group(0)
    userinfo, after = split
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon and user and "/" not in user else MASK
    return f"{m.group('scheme')}{shown}@{after}"


def url(value: str) -> str:
    """``value`` (a URL) with any password masked."""
    return text(value)


def text(value: str) -> str:
    """``value`` with every credential this module can recognize masked."""
    if not value:
        return value
    out = _URL.sub(_mask_url, value) if "://" in value else value
    # every log line's values pass here: the header patterns run only when a word they need
    # is present (a substring test is some thirty times cheaper than the three patterns)
    lowered = out.lower()
    if "MII" in out or any(hint in lowered for hint in _HEADER_HINTS):
        for pattern, replacement in _HEADERS:
            out = pattern.sub(replacement, out)
    secret_re = _secret_re
    if secret_re is not None:
        out = secret_re.sub(MASK, out)
    return out


def exception(exc: BaseException) -> str:
    """``Type: message`` of an exception, redacted."""
    return text(f"{type(exc).__name__}: {exc}")

