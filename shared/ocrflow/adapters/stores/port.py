"""The port every object store implements (files, S3, OBS)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...core.models import ObjectHead

if TYPE_CHECKING:
    from ...core.signer import Credentials


class ObjectStore(abc.ABC):
    """Read access to buckets (and write access for claim-check results)."""

    @abc.abstractmethod
    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectHead:
        """Size, ETag and metadata of an object. Raises ObjectNotFound."""

    @abc.abstractmethod
    def get(self, bucket: str, key: str, version_id: str | None = None,
            if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        """The object's bytes. Raises ObjectNotFound, ObjectChanged when ``if_match`` (an
        ETag) no longer matches, or ObjectTooLarge when the object holds more than
        ``max_bytes`` (read no further than one byte past it, whatever an event said)."""

    @abc.abstractmethod
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        """Stores bytes and returns a URL that names them (``file://…``, ``s3://…``)."""

    @abc.abstractmethod
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectHead]:
        """Every object under ``prefix``, in key order."""

    def scoped(self, credentials: Credentials | None, region: str | None) -> ObjectStore:
        """The store as one invocation uses it: with that invocation's credentials (a
        FunctionGraph agency's rotate) and the region its event names. Stores that find
        their own credentials and endpoint (files, S3 through boto3) are the same store."""
        return self

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
