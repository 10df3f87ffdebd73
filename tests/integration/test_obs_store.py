"""The obs:// store against moto server through a recording forwarder: what a FunctionGraph
invocation sends (temporary AK, security token, the endpoint of the event's region)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from ocrflow.adapters.stores.obs import open_store
from ocrflow.core.errors import ObjectStoreError
from ocrflow.core.signer import Credentials
from tests.integration.test_aws_adapters import bucket, check_store
from tests.integration.test_aws_adapters import s3 as s3  # noqa: F401 - fixture
from tests.support.recording_forwarder import RecordingForwarder

TEMP = Credentials("TEMPAKFG", "TEMPSKFG", "TEMPTOKENFG")


@pytest.fixture
def forwarder(moto_endpoint: str) -> Iterator[RecordingForwarder]:
    fwd = RecordingForwarder(moto_endpoint)
    yield fwd
    fwd.stop()


def test_reads_and_writes_with_the_invocations_temporary_credentials(
        s3: Any, forwarder: RecordingForwarder) -> None:  # noqa: F811
    store = open_store(f"obs://?endpoint={forwarder.url}", env={}).scoped(TEMP, "cn-north-4")
    check_store(store, s3, "小票 01+(a).png", "obs")
    assert {r.method for r in forwarder.requests} == {"GET", "HEAD", "PUT"}
    for sent in forwarder.requests:
        assert sent.headers["x-amz-security-token"] == "TEMPTOKENFG"
        assert sent.headers["authorization"].startswith(
            "AWS4-HMAC-SHA256 Credential=TEMPAKFG/") and "/cn-north-4/s3/aws4_request," in \
            sent.headers["authorization"]
        assert "x-amz-security-token" in sent.headers["authorization"]  # signed, not just sent


def test_configured_obs_keys_win_and_no_keys_at_all_is_a_read_failure(
        s3: Any, forwarder: RecordingForwarder) -> None:  # noqa: F811
    b = bucket(s3)
    s3.put_object(Bucket=b, Key="a.png", Body=b"x")
    static = open_store(f"obs://?endpoint={forwarder.url}",
                        env={"AWS_ACCESS_KEY_ID": "STATICAK", "AWS_SECRET_ACCESS_KEY": "STATICSK"})
    assert static.scoped(TEMP, "cn-north-4").get(b, "a.png") == b"x"
    assert forwarder.requests[-1].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=STATICAK/")
    assert "x-amz-security-token" not in forwarder.requests[-1].headers

    before = len(forwarder.requests)
    with pytest.raises(ObjectStoreError, match="no credentials for OBS") as err:
        open_store(f"obs://?endpoint={forwarder.url}", env={}).get(b, "a.png")
    assert err.value.code == "OCRFLOW.OBJECT_READ_FAILED"
    assert len(forwarder.requests) == before  # nothing unsigned was sent


def test_endpoint_is_the_obs_endpoint_of_the_events_region(
        s3: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Any) -> None:  # noqa: F811
    b = bucket(s3)
    s3.put_object(Bucket=b, Key="scan.png", Body=b"scan")
    ca = trustme.CA()
    proxy = RecordingForwarder(moto_endpoint, proxy=ca)
    try:
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
        store = open_store("obs://", env={})
        assert store.scoped(TEMP, "ap-southeast-3").get(b, "scan.png") == b"scan"
    finally:
        proxy.stop()
    assert proxy.tunnels == [f"{b}.obs.ap-southeast-3.myhuaweicloud.com:443"]
    [sent] = proxy.requests
    assert sent.host == f"{b}.obs.ap-southeast-3.myhuaweicloud.com" and sent.path == "/scan.png"
    assert "/ap-southeast-3/s3/aws4_request," in sent.headers["authorization"]


def test_keys_with_dot_and_empty_segments_are_sent_as_they_are(
        s3: Any, forwarder: RecordingForwarder) -> None:  # noqa: F811
    """On OBS './a.png', 'a.png/.' and 'a//b.png' are objects of their own: the request goes
    out with the path that was signed, not the one an HTTP client would normalise to."""
    b = bucket(s3)
    keys = {"a.png": b"plain", "./a.png": b"dot", "d/../a.png": b"dot-dot", "a//b.png": b"double"}
    for key, body in keys.items():
        s3.put_object(Bucket=b, Key=key, Body=body)
    store = open_store(f"obs://?endpoint={forwarder.url}&addressing=path",
                       env={"AWS_ACCESS_KEY_ID": "STATICAK", "AWS_SECRET_ACCESS_KEY": "STATICSK"})
    for key, body in keys.items():
        assert store.get(b, key) == body, key
    assert [r.path for r in forwarder.requests] == [f"/{b}/{key}" for key in keys]
