"""The recognize handler on FunctionGraph with an agency and no keys in the environment:
OBS (moto server behind a recording forwarder) is read, and claim-check results written,
with the context's temporary AK, SK and security token; the OCR call carries the same token;
the OBS endpoint follows the event's region."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from ocrflow.adapters.registry import open_queue
from ocrflow.core.signer import verify
from ocrflow.runtime import reset_runtime, runtime
from tests.conftest import ROOT, load_event
from tests.integration.test_aws_adapters import png
from tests.integration.test_aws_adapters import s3 as s3  # noqa: F401 - fixture
from tests.support.platform import FunctionGraphContext
from tests.support.recording_forwarder import RecordingForwarder
from tests.support.replay_server import OK_RESULT, Answer, ReplayServer

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN", "HUAWEICLOUD_SDK_SECRET_ARN")


def rotated(n: int) -> FunctionGraphContext:
    """FunctionGraph's context of invocation ``n``: the agency's keys rotate, so each
    invocation may bring others."""
    return FunctionGraphContext(request_id=f"fg-request-{n}", access_key=f"TEMPAK{n}",
                                secret_key=f"TEMPSK{n}", security_token=f"TEMPTOKEN{n}")


def recognize_handler() -> Callable[[Any, Any], dict[str, Any]]:
    """``functions/recognize/handler.py``, the entry FunctionGraph calls."""
    spec = importlib.util.spec_from_file_location("fg_recognize_handler",
                                                  ROOT / "functions" / "recognize" / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


@pytest.fixture
def agency_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, replay: ReplayServer,
               cloud_eye: ReplayServer) -> Iterator[Path]:
    """A FunctionGraph environment with no keys: only the context has credentials."""
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNTIME_CODE_ROOT", str(tmp_path / "code"))
    monkeypatch.setenv("CES_ENDPOINT", cloud_eye.url)
    monkeypatch.setenv("OCRFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OCR_ENDPOINT", replay.url)
    monkeypatch.setenv("OCR_PROJECT_ID", "fg-project")
    reset_runtime()
    yield tmp_path / "state"
    reset_runtime()


def obs_event(bucket: str, key_encoded: str, data: bytes, region: str = "cn-north-4") -> dict[str, Any]:
    event = load_event("obs_native_v3.json")
    record = event["Records"][0]
    record["eventRegion"] = region
    record["obs"]["bucket"]["name"] = record["obs"]["bucket"]["bucket"] = bucket
    record["obs"]["object"].update(key=key_encoded, size=len(data),
                                   eTag=hashlib.md5(data).hexdigest())  # noqa: S324 - S3 ETag
    return event


def new_bucket(s3: Any) -> str:  # noqa: F811
    name = f"ocrflow-obs-{uuid.uuid4().hex[:10]}"  # a DNS name: virtual-host addressing
    s3.create_bucket(Bucket=name)
    return name


def results(state: Path) -> list[dict[str, Any]]:
    return list(open_queue(f"sqlite:///{state / 'queues.db'}?queue=results").dump())


def test_reads_obs_and_calls_ocr_with_the_agencys_rotating_credentials(
        s3: Any, moto_endpoint: str, agency_env: Path, replay: ReplayServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, cloud_eye: ReplayServer) -> None:
    b = new_bucket(s3)
    first, second = png(120, 60), png(140, 60)
    s3.put_object(Bucket=b, Key="receipts/2026/小票 01.png", Body=first)
    s3.put_object(Bucket=b, Key="receipts/2026/小票 02.png", Body=second)
    forwarder = RecordingForwarder(moto_endpoint)
    try:
        monkeypatch.setenv("OBJECT_STORE_URL", f"obs://?endpoint={forwarder.url}")
        handler = recognize_handler()
        summary = handler(obs_event(b, "receipts/2026/%E5%B0%8F%E7%A5%A8+01.png", first),
                          rotated(1))
        assert summary["counts"] == {"records": 1, "results": 1, "failures": 0, "duplicates": 0,
                                     "ignored": 0, "unpublished": 0}
        # the next invocation brings rotated keys: they are used, not the first ones
        summary = handler(obs_event(b, "receipts/2026/%E5%B0%8F%E7%A5%A8+02.png", second),
                          rotated(2))
        assert summary["counts"]["results"] == 1
    finally:
        forwarder.stop()

    reads = [r for r in forwarder.requests if r.method == "GET"]
    assert [r.path for r in reads] == [f"/{b}/receipts/2026/%E5%B0%8F%E7%A5%A8%2001.png",
                                       f"/{b}/receipts/2026/%E5%B0%8F%E7%A5%A8%2002.png"]
    for n, read in enumerate(reads, start=1):
        assert read.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential=TEMPAK{n}/")
        assert read.headers["x-amz-security-token"] == f"TEMPTOKEN{n}"
        assert "x-amz-security-token" in read.headers["authorization"]  # signed with the request
    for n, call in enumerate(replay.received, start=1):
        assert call.headers["X-Security-Token"] == f"TEMPTOKEN{n}"
        assert verify("POST", call.path, "", call.headers, call.body,
                      {f"TEMPAK{n}": f"TEMPSK{n}"}) == f"TEMPAK{n}"
    assert len(replay.received) == 2
    # one Cloud Eye request per invocation, each signed with that invocation's keys
    assert [verify("POST", m.path, "", m.headers, m.body, {f"TEMPAK{n}": f"TEMPSK{n}"})
            for n, m in enumerate(cloud_eye.received, start=1)] == ["TEMPAK1", "TEMPAK2"]
    published = results(agency_env)
    assert [m["subject"] for m in published] == ["receipts/2026/小票 01.png", "receipts/2026/小票 02.png"]
    assert published[0]["data"]["object"]["bucket"] == b


def regional_event(shape: str, bucket: str, region: str, data: bytes) -> tuple[dict[str, Any], str]:
    """A sample event of ``shape`` naming ``bucket`` in ``region``; and its decoded key."""
    etag = hashlib.md5(data).hexdigest()  # noqa: S324 - the S3 ETag of a single-part upload
    if shape == "eventgrid":
        event = load_event("eventgrid_obs.json")
        event["data"]["eventRegion"] = region
        body, key = event["data"]["obs"], "scans/扫描 件.png"
    else:
        event = load_event(f"{shape}.json")
        record = event["Records"][0]
        record["awsRegion" if shape == "obs_s3_compatible" else "eventRegion"] = region
        body = record["s3" if shape == "obs_s3_compatible" else "obs"]
        key = "身份证/front side.jpg" if shape == "obs_s3_compatible" else "receipts/2026/小票 01.png"
    body["bucket"]["name"] = bucket
    body["object"].update(size=len(data), eTag=etag)
    return event, key


@pytest.mark.parametrize("shape, region", [("obs_native_v3", "cn-south-1"),
                                           ("obs_s3_compatible", "ap-southeast-1"),
                                           ("eventgrid", "cn-east-3")])
def test_obs_endpoint_is_derived_from_the_events_region(
        shape: str, region: str, s3: Any, moto_endpoint: str, agency_env: Path,  # noqa: F811
        replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    b = new_bucket(s3)
    data = png()
    event, key = regional_event(shape, b, region, data)
    s3.put_object(Bucket=b, Key=key, Body=data)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    # every HTTPS connection goes through the recording proxy, which plays the OBS endpoint
    # it is asked for (a certificate for that host from the test CA) in front of moto
    proxy = RecordingForwarder(moto_endpoint, proxy=ca)
    try:
        monkeypatch.setenv("OBJECT_STORE_URL", "obs://")
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
        summary = recognize_handler()(event, rotated(7))
    finally:
        proxy.stop()
    assert summary["counts"]["results"] == 1, summary
    host = f"{b}.obs.{region}.myhuaweicloud.com"
    assert proxy.tunnels == [f"{host}:443"]
    [read] = proxy.requests
    assert (read.method, read.host, read.path) == ("GET", host, "/" + quote(key))
    assert f"/{region}/s3/aws4_request," in read.headers["authorization"]
    assert read.headers["x-amz-security-token"] == "TEMPTOKEN7"
    assert [m["subject"] for m in results(agency_env)] == [key]


def test_claim_check_results_are_written_with_the_agencys_credentials(
        s3: Any, moto_endpoint: str, agency_env: Path, replay: ReplayServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    b = new_bucket(s3)
    data = png()
    s3.put_object(Bucket=b, Key="receipts/2026/小票 01.png", Body=data)
    big = {"result": {**OK_RESULT["result"], "words_block_list": [
        {"words": f"line {i} " + "x" * 80, "confidence": 0.99} for i in range(60)]}}
    replay.script(Answer(body=big))
    forwarder = RecordingForwarder(moto_endpoint)
    try:
        monkeypatch.setenv("OBJECT_STORE_URL", f"obs://?endpoint={forwarder.url}")
        runtime().message_limits["result"] = 2048  # a queue that takes 2 KiB messages
        summary = recognize_handler()(obs_event(b, "receipts/2026/%E5%B0%8F%E7%A5%A8+01.png", data),
                                      rotated(3))
    finally:
        forwarder.stop()
    assert summary["counts"]["results"] == 1, summary
    [put] = [r for r in forwarder.requests if r.method == "PUT"]
    assert put.path.startswith(f"/{b}/ocrflow-results/")
    assert put.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=TEMPAK3/")
    assert put.headers["x-amz-security-token"] == "TEMPTOKEN3"
    [message] = results(agency_env)
    ref = message["data"]["result_ref"]
    stored = s3.get_object(Bucket=b, Key=ref["url"].split(f"obs://{b}/", 1)[1])["Body"].read()
    assert json.loads(stored) == big["result"] and ref["sha256"] == hashlib.sha256(stored).hexdigest()
