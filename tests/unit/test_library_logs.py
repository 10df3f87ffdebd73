"""Client libraries' logging records come out as our JSON lines, WARNING and above, with
secrets masked in their text."""

from __future__ import annotations

import io
import json
import logging


def test_botocore_urllib3_pika_redis_records_become_json_lines_without_secrets(
        log_lines: io.StringIO) -> None:
    logging.getLogger("botocore.credentials").warning(
        "refreshing credentials: aws_secret_access_key=wJalrXUtnFEMI token=IQoJb3JpZ2lu")
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying after connection broken: https://user:hunter2@example.com/x?"
        "X-Amz-Signature=0f1e2d3c&X-Amz-Credential=AKIA")
    logging.getLogger("pika.adapters.blocking_connection").error(
        "Connection to amqp://ocrflow:s3cret@10.0.0.5:5672/%2F failed")
    logging.getLogger("redis.connection").info("an info line is dropped")
    logging.getLogger("botocore.hooks").debug("a debug line is dropped")
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == [
        "botocore.credentials", "urllib3.connectionpool", "pika.adapters.blocking_connection"]
    assert [line["level"] for line in lines] == ["WARNING", "WARNING", "ERROR"]
    for line in lines:
        assert set(line) >= {"level", "location", "message", "timestamp", "service"}
        assert line["service"] == "ocrflow-test"
        assert line["location"].startswith("test_botocore_urllib3_pika_redis_records")
    text = log_lines.getvalue()
    for secret in ("wJalrXUtnFEMI", "IQoJb3JpZ2lu", "hunter2", "0f1e2d3c", "s3cret"):
        assert secret not in text
    assert "amqp://ocrflow:***@10.0.0.5:5672" in lines[2]["message"]


def test_a_library_logging_to_a_closed_stream_goes_on(log_lines: io.StringIO) -> None:
    """A library that logs while the process shuts its output down (a Kafka producer
    flushing as it closes) is not stopped by the line that cannot be written."""
    from ocrflow.observability import log

    closing = io.StringIO()
    log._configured = None
    log.configure("ocrflow-test", "DEBUG", closing)
    closing.close()
    try:
        logging.getLogger("confluent_kafka").error("FAIL [ocrflow#producer-1]: broker down")
        logging.getLogger("pika").warning("connection lost")
    finally:
        log._configured = None
        log.configure("ocrflow-test", "DEBUG", log_lines)  # as the other tests leave it
    logging.getLogger("pika").warning("written again")
    assert json.loads(log_lines.getvalue())["message"] == "written again"
