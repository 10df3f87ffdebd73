"""Object stores, one module per backend (:mod:`.file`, :mod:`.s3`, :mod:`.obs`), behind
the port :class:`ObjectStore`."""

from .port import ObjectStore

__all__ = ["ObjectStore"]
