"""Reading what reached a RabbitMQ queue, for tests."""

from __future__ import annotations

import pika


def drain(amqp_url: str, queue: str) -> list[bytes]:
    """Takes every message off ``queue`` (oldest first), then deletes the queue."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = conn.channel()
        bodies = []
        while True:
            method, _, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                break
            bodies.append(body)
        ch.queue_delete(queue)
    finally:
        conn.close()
    return bodies
