"""The obs:// store signs as the official OBS SDK (``esdk-obs-python``, pinned) signs V4
requests, and as botocore signs S3 requests with a session token; and it builds the OBS
endpoint from the event's region."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from obs.auth import V4Authentication
from obs.convertor import Adapter

from ocrflow.adapters.stores.obs import ObsStore, open_store, sign_v4
from ocrflow.core.errors import ConfigError, ObjectStoreError
from ocrflow.core.signer import Credentials

TEMP = Credentials("TEMPAK0123", "tempSecret/Key+0123", "token/with+special=chars==")
WHEN = datetime(2026, 11, 25, 8, 30, 15, tzinfo=timezone.utc)
KEY = "receipts/2026/小票 01+(a).png"


def fields(authorization: str) -> list[str]:
    return [part.strip() for part in authorization.split(",")]


@pytest.mark.parametrize("path_style", [False, True])
def test_signature_matches_the_official_obs_sdk(path_style: bool) -> None:
    store = ObsStore(None, "cn-north-4", "path" if path_style else None)
    origin, path = store.url_for("ocrflow-obs", KEY)
    host = origin.split("://")[1]
    headers = {"host": host, "if-match": '"0123abcd"'}
    ours = sign_v4("GET", path, {"versionId": "G001/17+x"}, headers, TEMP, "cn-north-4", WHEN)

    sdk_headers = {"Host": host, "If-Match": '"0123abcd"', "x-amz-date": "20261125T083015Z",
                   "x-amz-security-token": TEMP.security_token}
    sdk = V4Authentication(TEMP.ak, TEMP.sk, "cn-north-4", "20261125", "20261125T083015Z",
                           path_style, Adapter("v4")).doAuth(
        "GET", "ocrflow-obs", KEY, {"versionId": "G001/17+x"}, sdk_headers)
    assert ours["authorization"] == sdk["Authorization"]
    assert ours["x-amz-security-token"] == TEMP.security_token
    assert "x-amz-security-token" in ours["authorization"].split("SignedHeaders=")[1]


def test_signature_matches_botocore_with_a_session_token() -> None:
    store = ObsStore("http://obs.cn-south-1.example.test", "cn-south-1", "path")
    origin, path = store.url_for("ocrflow-obs", KEY)
    request = AWSRequest("PUT", origin + path, data=b"{}", headers={"Content-Type": "application/json"})
    boto = BotoCredentials(TEMP.ak, TEMP.sk, TEMP.security_token)
    S3SigV4Auth(boto, "s3", "cn-south-1").add_auth(request)
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    ours = sign_v4("PUT", path, {}, {"host": origin.split("://")[1], "content-type": "application/json"},
                   TEMP, "cn-south-1", when, payload_hash=request.headers["X-Amz-Content-SHA256"])
    # botocore writes ", " between the fields, the OBS SDK ","; the fields are the same
    assert fields(ours["authorization"]) == fields(request.headers["Authorization"])


def test_endpoint_comes_from_the_events_region_unless_configured() -> None:
    store = open_store("obs://", env={})
    for_event = store.scoped(TEMP, "ap-southeast-1")
    assert for_event.url_for("ocrflow-obs", "a b.png") == (
        "https://ocrflow-obs.obs.ap-southeast-1.myhuaweicloud.com", "/a%20b.png")
    assert for_event.signing_region == "ap-southeast-1"
    # a dotted bucket cannot be a TLS host name: path style
    assert for_event.url_for("my.bucket", "k") == ("https://obs.ap-southeast-1.myhuaweicloud.com",
                                                   "/my.bucket/k")
    with pytest.raises(ObjectStoreError, match="names no region"):
        store.scoped(TEMP, None).url_for("ocrflow-obs", "k")
    # the region comes from the event: it can name a region, never another host
    for hostile in ("cn-north-4.attacker.example", "cn-north-4/x", "127.0.0.1:8080#"):
        with pytest.raises(ObjectStoreError, match="is not a region name"):
            store.scoped(TEMP, hostile).url_for("ocrflow-obs", "k")

    fixed = open_store("obs://?endpoint=https://obs.cn-east-3.myhuaweicloud.com", env={})
    other = fixed.scoped(TEMP, "ap-southeast-1")
    assert other.url_for("b-1", "k")[0] == "https://b-1.obs.cn-east-3.myhuaweicloud.com"
    assert other.signing_region == "cn-east-3"  # signed for the endpoint's region, not the event's
    local = open_store("obs://?endpoint=http://127.0.0.1:9000", env={})
    assert local.scoped(TEMP, "cn-north-4").url_for("b-1", "k") == ("http://127.0.0.1:9000", "/b-1/k")


def test_configured_obs_keys_win_over_the_invocations() -> None:
    store = open_store("obs://", env={"AWS_ACCESS_KEY_ID": "STATICAK", "AWS_SECRET_ACCESS_KEY": "s"})
    assert store.scoped(TEMP, "cn-north-4").credentials.ak == "STATICAK"  # type: ignore[union-attr]
    assert open_store("obs://", env={}).scoped(TEMP, "cn-north-4").credentials == TEMP
    assert open_store("obs://", env={}).credentials is None


@pytest.mark.parametrize("url, problem", [
    ("obs://?endpoint=obs.cn-north-4.myhuaweicloud.com", "endpoint must be an http(s) URL"),
    ("obs://?region=North 4", "is not a region name"),
    ("obs://?addressing=sideways", "addressing is virtual or path"),
    ("obs://?bucket=x", "unknown options"),
])
def test_bad_store_urls_name_the_variable(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)) as err:
        open_store(url, env={})
    assert err.value.variable == "OBJECT_STORE_URL"
