"""``kafka://`` URLs: what they say, what they refuse, and that no password leaks.

No broker needed (these sit with the Kafka tests because they own the module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.adapters.queues.kafka import (
    DEFAULT_DELIVERY_TIMEOUT_MS,
    cloudevent_headers,
    parse_url,
    redact,
)
from ocrflow.adapters.registry import open_queue
from ocrflow.core.errors import ConfigError
from tests.integration.kafka_broker import event


def test_plain_url_defaults() -> None:
    s = parse_url("kafka://10.0.0.1:9092,10.0.0.2:9092,broker-3/ocr-results")
    assert s.bootstrap == ("10.0.0.1:9092", "10.0.0.2:9092", "broker-3:9092")
    assert s.topic == "ocr-results"
    assert s.security_protocol == "PLAINTEXT" and s.username is None
    assert s.delivery_timeout_ms == DEFAULT_DELIVERY_TIMEOUT_MS and s.idempotence
    conf = s.producer_config()
    assert conf["enable.idempotence"] is True and conf["acks"] == "all"
    assert conf["delivery.timeout.ms"] == DEFAULT_DELIVERY_TIMEOUT_MS
    assert conf["partitioner"] == "murmur2_random"
    assert "sasl.username" not in conf


def test_dms_sasl_ssl_url(tmp_path: Path) -> None:
    ca = tmp_path / "phy_ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = parse_url(f"kafka://ocr%40user:p%40ss%3Aw%2Frd@192.168.0.11:9093,192.168.0.12:9093/"
                  f"results?security_protocol=SASL_SSL&sasl_mechanism=SCRAM-SHA-512"
                  f"&ssl_cafile={ca}&ssl_check_hostname=false&delivery_timeout_ms=5000")
    assert (s.username, s.password) == ("ocr@user", "p@ss:w/rd")
    conf = s.producer_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("ocr@user", "p@ss:w/rd")
    assert conf["ssl.ca.location"] == str(ca)
    assert conf["ssl.endpoint.identification.algorithm"] == "none"
    assert conf["delivery.timeout.ms"] == 5000
    assert "p@ss" not in repr(s)


def test_credentials_default_to_sasl_ssl_plain() -> None:
    s = parse_url("kafka://u:p@b-1.msk.example:9096/t")
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_SSL", "PLAIN")
    s = parse_url("kafka://u:p@h:9092/t?security_protocol=sasl_plaintext")
    assert s.security_protocol == "SASL_PLAINTEXT"


@pytest.mark.parametrize("url", [
    "kafka://h:9092/",  # no topic
    "kafka://h:9092/bad topic",
    "kafka://h:port/t",
    "kafka://h:9092/t?security_protocol=TLS",
    "kafka://u:secret-pw@h:9092/t?sasl_mechanism=GSSAPI",
    "kafka://u:secret-pw@h:9092/t?security_protocol=PLAINTEXT",  # credentials unused
    "kafka://h:9092/t?security_protocol=SASL_SSL",  # no credentials
    "kafka://h:9092/t?delivery_timeout_ms=soon",
    "kafka://h:9092/t?delivery_timeout_ms=0",
    "kafka://h:9092/t?idempotence=maybe",
    "kafka://h:9092/t?acks=1",  # unknown option: acks=all is not negotiable
    "kafka://h:9092/t?idempotence=true&idempotence=false",
    "kafka://u:secret-pw@h:9092/t?ssl_cafile=/nonexistent/ca.pem",
])
def test_bad_urls_fail_at_start_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_queue(url, "FAILURE_QUEUE_URL")
    assert caught.value.variable in ("FAILURE_QUEUE_URL", "RESULT_QUEUE_URL")
    assert "secret-pw" not in str(caught.value)


def test_redact() -> None:
    assert redact("kafka://u:pw@h:1,h:2/t?x=1") == "kafka://u:***@h:1,h:2/t?x=1"
    assert redact("kafka://h:1/t") == "kafka://h:1/t"


def test_headers_follow_the_cloudevents_kafka_binding() -> None:
    m = event("a/ü.png", 3)
    headers = dict(cloudevent_headers(m))
    assert headers["ce_id"] == m.id.encode()
    assert headers["ce_subject"] == "a/ü.png".encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/cloudevents+json; charset=UTF-8"
    assert "ce_data" not in headers and "ce_datacontenttype" not in headers
    raw = event("k")
    raw.body = b"not json"
    assert dict(cloudevent_headers(raw))["ce_id"] == raw.id.encode()
