"""``file:///ROOT``: a folder as an object store; bucket ``B`` is the folder ``ROOT/B``.

For local runs and tests. ETags are the MD5 of the content, as S3 gives for single-part
uploads. Versions are not kept: a ``version_id`` is ignored.

Names come from events, so neither a bucket nor a key may leave the root: a bucket is one
folder name (:func:`ocrflow.core.object_names.file_bucket_problem`), a key is the canonical path of a file
(:func:`ocrflow.core.object_names.file_key_problem`: no ``.``, ``..`` or empty segment, no trailing
``/``) and resolves (symbolic links followed) inside its bucket. Only regular files are
objects: a named pipe or a device is refused from its type, opened without blocking, and never
read.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat as stat_mod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ...core.errors import (
    BucketInvalid,
    ConfigError,
    KeyInvalid,
    ObjectChanged,
    ObjectNotFound,
    ObjectStoreError,
    ObjectTooLarge,
)
from ...core.models import ObjectHead
from ...core.object_names import file_bucket_problem, file_key_problem
from .port import ObjectStore

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_fd(fd: int) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _content_type(key: str) -> str | None:
    # the interpreter's own table: mimetypes.guess_type() first parses the system's
    # mime.types files (1 700 entries, about 2 ms of CPU at a fresh process's first record)
    return mimetypes.types_map.get(os.path.splitext(key)[1].lower())


class FileStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, bucket: str, key: str) -> Path:
        problem = file_bucket_problem(bucket)
        if problem is not None:
            raise BucketInvalid(problem)
        problem = file_key_problem(key)
        if problem is not None:  # one file, one key
            raise KeyInvalid(problem)
        try:
            base = (self.root / bucket).resolve()
            path = (base / key).resolve()
        except (ValueError, UnicodeError):  # a NUL or a lone surrogate: no file has that name
            raise ObjectNotFound(f"no object {key!r} in bucket {bucket!r}") from None
        if base != path and base not in path.parents:
            # a key with '..' segments or a link must not reach outside its bucket
            raise ObjectNotFound(f"key escapes bucket {bucket!r}")
        return path

    def _open_regular(self, path: Path, bucket: str, key: str) -> tuple[int, os.stat_result]:
        """A descriptor of the file and its status, if it is a regular file; a FIFO opened
        this way does not wait for a writer."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in bucket {bucket!r}") from None
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc.strerror}") from None
        status = os.fstat(fd)
        if not stat_mod.S_ISREG(status.st_mode):
            os.close(fd)
            raise ObjectNotFound(f"{key!r} in bucket {bucket!r} is not a regular file")
        return fd, status

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead:
        path = self._path(bucket, key)
        fd, status = self._open_regular(path, bucket, key)  # hashed through the same descriptor
        return ObjectHead(
            bucket=bucket, key=key, size=status.st_size, etag=_md5_fd(fd),
            content_type=_content_type(key),
        )

    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        """``max_bytes``: refuse (``ObjectTooLarge``) an object longer than this, having read
        at most one byte more, whatever size the event announced."""
        path = self._path(bucket, key)
        fd, _ = self._open_regular(path, bucket, key)
        try:
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as f:
                data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc.strerror}") from None
        if max_bytes is not None and len(data) > max_bytes:
            raise ObjectTooLarge(f"{key!r} is larger than {max_bytes} bytes")
        if if_match is not None and _md5(data) != if_match.strip('"'):
            raise ObjectChanged(f"{key!r} changed since the event (ETag no longer matches)")
        return data

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        path = self._path(bucket, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ObjectStoreError(f"cannot write {key!r} in bucket {bucket!r}: {exc.strerror}") from None
        return path.as_uri()

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectHead]:
        if file_bucket_problem(bucket) is not None:
            return
        base = self.root / bucket
        if not base.is_dir():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield ObjectHead(bucket=bucket, key=key, size=path.stat().st_size,
                                 content_type=_content_type(key))


def open_store(url: str) -> FileStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError("OBJECT_STORE_URL", f"expected file:///ABSOLUTE/PATH, got {url!r}")
    root = Path(unquote(parts.path))
    if not root.is_dir():
        raise ConfigError("OBJECT_STORE_URL", f"folder {root} does not exist")
    return FileStore(root)


REQUIRES = None


def check_url(url: str, variable: str) -> None:
    """Opening the store reads its URL and connects to nothing."""
    open_store(url).close()
