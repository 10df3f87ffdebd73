"""Bucket and key names an object store can address, checked before anything is read: a name
that the configured object store cannot address is a coded failure
(``OCRFLOW.BUCKET_INVALID``, ``OCRFLOW.KEY_INVALID``), never a path or a host of someone
else's choosing.

Keys (:func:`check_key`): at most 1024 bytes, no control character, no ``..`` segment; on a
folder store also the canonical path of a file (:func:`file_key_problem`). Buckets:

* ``file://`` — one folder under the store's root: a single path component, so no name
  (``..``, ``a/../../x``, an absolute path, a NUL) leaves the root;
* ``s3://`` — what the S3 API addresses: 1–255 letters, digits, ``.``, ``_``, ``-`` (names of
  buckets created before 2018 in us-east-1 may have capitals and ``_``; newer ones follow the
  DNS rules below, which S3 itself enforces at creation);
* ``obs://`` and every bucket that becomes a host name (URL mode) — the DNS-compatible rules
  of OBS and of S3 today: 3–63 characters of ``a-z 0-9 . -``, starting and ending with a
  letter or digit, no ``..``, no ``.-`` or ``-.``, not an IP address.
"""

from __future__ import annotations

import ipaddress
import re

from .errors import FailureError

MAX_COMPONENT_BYTES = 255
MAX_KEY_BYTES = 1024
_S3 = re.compile(r"[A-Za-z0-9._-]{1,255}")
_DNS = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def file_bucket_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not one folder name under a root, or None."""
    if not bucket:
        return "the bucket name is empty"
    if bucket in (".", ".."):
        return f"the bucket name {bucket!r} is not a folder name"
    if any(c in bucket for c in "/\\") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in bucket):
        return "the bucket name has a path separator or a control character"
    try:
        size = len(bucket.encode("utf-8"))
    except UnicodeEncodeError:
        return "the bucket name is not valid Unicode"
    if size > MAX_COMPONENT_BYTES:
        return f"the bucket name is {size} bytes; at most {MAX_COMPONENT_BYTES}"
    return None


def file_key_problem(key: str) -> str | None:
    """Why ``key`` is not the canonical path of a file under a folder store's bucket, or
    None. A folder store would read ``a.png/.``, ``./a.png``, ``a//b.png`` and ``a.png/``
    as the file of another key (and each would be paid for again under its own); on S3 and
    OBS they name different objects and are passed as they are."""
    if key.endswith("/"):
        return "the key ends with '/', which names a folder on a folder store"
    segments = key.split("/")
    if "" in segments:
        return "the key has an empty segment ('//' or a leading '/')"
    if "." in segments or ".." in segments:
        return "the key has a '.' or '..' segment"
    return None


def dns_bucket_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a DNS-compatible (OBS, current S3) bucket name, or None."""
    if not _DNS.fullmatch(bucket):
        return ("the bucket name must be 3-63 characters of lowercase letters, digits, '.' "
                "and '-', starting and ending with a letter or digit")
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return "the bucket name has '..', '.-' or '-.'"
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return None
    return "the bucket name is an IP address"


def s3_bucket_problem(bucket: str) -> str | None:
    if not _S3.fullmatch(bucket):
        return "the bucket name must be 1-255 letters, digits, '.', '_' or '-'"
    return None


def bucket_problem(bucket: str, scheme: str) -> str | None:
    """Why the object store of ``scheme`` cannot address ``bucket``, or None."""
    if scheme == "file":
        return file_bucket_problem(bucket)
    if scheme == "obs":
        return dns_bucket_problem(bucket)
    return s3_bucket_problem(bucket)


def check_bucket(bucket: str, scheme: str) -> None:
    """Raises ``OCRFLOW.BUCKET_INVALID`` when the store of ``scheme`` cannot address it."""
    problem = bucket_problem(bucket, scheme)
    if problem is not None:
        raise FailureError.of("OCRFLOW.BUCKET_INVALID", problem)


def check_key(key: str, store_scheme: str = "s3") -> None:
    """Refuses (``OCRFLOW.KEY_INVALID``) a key no store reads safely, and on the folder store
    (``store_scheme`` ``file``) a key that is not the canonical path of a file."""
    if not key:
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the object key is empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise FailureError.of("OCRFLOW.KEY_INVALID",
                              f"the key is {len(key.encode('utf-8'))} bytes; at most 1024")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the key contains control characters")
    if ".." in key.split("/"):
        raise FailureError.of("OCRFLOW.KEY_INVALID", "the key has a '..' segment")
    if store_scheme == "file" and (problem := file_key_problem(key)):
        raise FailureError.of("OCRFLOW.KEY_INVALID", problem)
