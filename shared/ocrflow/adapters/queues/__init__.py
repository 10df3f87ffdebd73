"""Queues, one module per backend (:mod:`.sqlite`, :mod:`.sqs`, :mod:`.sns`, :mod:`.amqp`,
:mod:`.redis_streams`, :mod:`.kafka`), behind the port :class:`Queue`."""

from .port import Queue

__all__ = ["Queue"]
