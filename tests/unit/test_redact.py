"""The one redaction: URL passwords with any delimiter, registered secrets and their pieces,
echoed authentication headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ocrflow.core import redact

PASSWORD = "Pw0rd@Leak:Sl/ash#Hash%Perc?Quest"


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    redact.forget()
    yield
    redact.forget()


@pytest.mark.parametrize("url, shown", [
    (f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F?queue=q", "amqp://guest:***@127.0.0.1:5672/%2F?queue=q"),
    ("redis://:p%40ss@h:6379/0", "redis://***@h:6379/0"),
    ("https://TOKENVALUE@github.example/x", "https://***@github.example/x"),
    ("kafka://u:pw@h:1,h:2/t?x=1", "kafka://u:***@h:1,h:2/t?x=1"),
    ("https://host/path?email=a@b.example", "https://host/path?email=a@b.example"),
    ("sqlite:///var/db@2.db?queue=q", "sqlite:///var/db@2.db?queue=q"),
    ("https://ocr.cn-north-4.myhuaweicloud.com/v2", "https://ocr.cn-north-4.myhuaweicloud.com/v2"),
])
def test_urls(url: str, shown: str) -> None:
    assert redact.url(url) == shown
    assert redact.text(f"cannot open {url!r}: refused") == f"cannot open {shown!r}: refused"


def test_a_password_and_its_pieces_are_masked_once_registered() -> None:
    redact.register_url(f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F")
    for leaked in ("Port could not be cast to integer value as 'Pw0rd'", "host Leak:Sl",
                   "path /ash#Hash", "Perc?Quest", "Pw0rd%40Leak%3ASl%2Fash"):
        out = redact.text(leaked)
        for piece in ("Pw0rd", "Leak", "Hash", "Perc", "Quest"):
            assert piece not in out, out


def test_registered_secrets_are_masked_also_when_json_escaped() -> None:
    secret = 'sk"with\\quote-and-slash'
    redact.register(secret)
    import json

    assert secret not in redact.text(json.dumps({"error": f"bad key {secret}"}))
    assert "with" not in redact.text(json.dumps({"error": f"bad key {secret}"}))


def test_short_values_are_not_registered() -> None:
    redact.register("pw", "a")
    assert redact.text("pw a") == "pw a"


@pytest.mark.parametrize("echo", [
    "Authorization: SDK-HMAC-SHA256 Access=HSTAK123, SignedHeaders=content-type;host;x-sdk-date, "
    "Signature=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    '{"X-Auth-Token": "MIIabc+/=defg", "x-security-token": "tok123456"}',
    "X-Subject-Token=abcdefgh; password=hunter22",
    "token " + "MII" + "A" * 100,
])
def test_echoed_headers(echo: str) -> None:
    out = redact.text(echo)
    for secret in ("HSTAK123", "0a1b2c3d4e5f", "MIIabc", "tok123456", "abcdefgh", "hunter22",
                   "A" * 100):
        assert secret not in out, out
