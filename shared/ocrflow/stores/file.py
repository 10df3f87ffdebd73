"""``file:///ROOT``: a folder as an object store; bucket ``B`` is the folder ``ROOT/B``.

For local runs and tests. ETags are the MD5 of the content, as S3 gives for single-part
uploads. Versions are not kept: a ``version_id`` is ignored.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError, ObjectChanged, ObjectNotFound, ObjectStoreError
from ..models import ObjectInfo
from ..ports import ObjectStore


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
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
        base = (self.root / bucket).resolve()
        path = (base / key).resolve()
        if base != path and base not in path.parents:
            # a key with '..' segments must not reach outside its bucket
            raise ObjectNotFound(f"key escapes bucket {bucket!r}")
        return path

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        path = self._path(bucket, key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in bucket {bucket!r}") from None
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc.strerror}") from None
        if not path.is_file():
            raise ObjectNotFound(f"{key!r} in bucket {bucket!r} is not a file")
        return ObjectInfo(
            bucket=bucket, key=key, size=stat.st_size, etag=_md5_file(path),
            content_type=_content_type(key),
        )

    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None) -> bytes:
        path = self._path(bucket, key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in bucket {bucket!r}") from None
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc.strerror}") from None
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

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root / bucket
        if not base.is_dir():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield ObjectInfo(bucket=bucket, key=key, size=path.stat().st_size,
                                 content_type=_content_type(key))


def open_store(url: str) -> FileStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError("OBJECT_STORE_URL", f"expected file:///ABSOLUTE/PATH, got {url!r}")
    root = Path(unquote(parts.path))
    if not root.is_dir():
        raise ConfigError("OBJECT_STORE_URL", f"folder {root} does not exist")
    return FileStore(root)
