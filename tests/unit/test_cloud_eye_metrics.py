"""Usage metrics on FunctionGraph go to Cloud Eye: the recognize function, called as
FunctionGraph calls it (preset variables, no key in the environment, the documented context),
sends one signed request per invocation to a local Cloud Eye endpoint; a Cloud Eye that fails
never fails a record, and its counts stay in the log line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrflow.config.settings import load_settings
from ocrflow.core.errors import ConfigError
from ocrflow.core.signer import verify
from ocrflow.observability.metrics import namespace_problem
from tests.conftest import load_event
from tests.support.platform import (
    FUNCTIONGRAPH_PROJECT_ID,
    FunctionGraphContext,
    Platform,
    make_functiongraph_platform,
    make_platform,
    tear_down,
)
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_pipeline import png_bytes, s3_event

METRICS = {"OcrCallsTotal", "OcrCallsSuccess", "OcrCallsFailed", "OcrBilledUnits", "OcrCallDuration"}


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    tear_down()


def functiongraph(tmp: Path, monkeypatch: pytest.MonkeyPatch, ocr: ReplayServer, ces: ReplayServer,
                  **env: str) -> Platform:
    return make_functiongraph_platform(tmp, monkeypatch, ocr.url + "/{region}",
                                       CES_ENDPOINT=ces.url, **env)


def obs_trigger(data: bytes, *keys: str) -> dict[str, Any]:
    """FunctionGraph's OBS trigger sample, one record per key (keys given decoded)."""
    from urllib.parse import quote_plus

    event = load_event("functiongraph_obs_trigger.json")
    template = event["Records"][0]
    records = []
    for key in keys:
        record = json.loads(json.dumps(template))
        record["obs"]["object"].update(key=quote_plus(key, safe="/"), size=len(data),
                                       eTag=hashlib.md5(data).hexdigest())  # noqa: S324 - ETag
        records.append(record)
    event["Records"] = records
    return event


def points_by_pair(body: bytes) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for point in json.loads(body):
        dims = {d["name"]: d["value"] for d in point["metric"]["dimensions"]}
        out.setdefault((dims["api"], dims["region"]), {})[point["metric"]["metric_name"]] = point
    return out


def test_functiongraph_sends_one_signed_request_to_cloud_eye_by_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer, cloud_eye: ReplayServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye)  # OCR_METRICS not set
    data = png_bytes()
    p.put("ocrflow-uploads", "invoices/2026/发票 11.png", data)
    context = FunctionGraphContext(access_key="TEMPAK1", secret_key="TEMPSK1",
                                   security_token="TEMPTOKEN1")
    summary = p.invoke(obs_trigger(data, "invoices/2026/发票 11.png"), context)
    assert summary["counts"]["results"] == 1

    [sent] = cloud_eye.received
    assert sent.path == f"/V1.0/{FUNCTIONGRAPH_PROJECT_ID}/metric-data"  # the function's project
    assert sent.headers["X-Security-Token"] == "TEMPTOKEN1"
    assert verify("POST", sent.path, "", sent.headers, sent.body, {"TEMPAK1": "TEMPSK1"}) == "TEMPAK1"
    pairs = points_by_pair(sent.body)
    assert set(pairs) == {("general-text", "cn-north-4")}
    points = pairs["general-text", "cn-north-4"]
    assert set(points) == METRICS
    assert {name: points[name]["value"] for name in METRICS - {"OcrCallDuration"}} == {
        "OcrCallsTotal": 1, "OcrCallsSuccess": 1, "OcrCallsFailed": 0, "OcrBilledUnits": 1}
    assert points["OcrCallDuration"]["value"] > 0 and points["OcrCallDuration"]["unit"] == "ms"
    assert {pt["metric"]["namespace"] for pt in points.values()} == {"OCRFLOW.OCR"}
    # no EMF line: nothing on FunctionGraph reads them
    assert "_aws" not in capsys.readouterr().err


def test_every_api_and_region_of_an_invocation_goes_in_one_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        cloud_eye: ReplayServer) -> None:
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye, OCR_METRICS_NAMESPACE="Acme_Docs.OCR_usage",
                      OCR_ROUTES=json.dumps([{"prefix": "cards/", "api": "id-card"},
                                             {"api": "general-text"}]),
                      OCR_API_REGIONS=json.dumps({"id-card": "cn-east-3"}),
                      OCR_PROJECT_IDS=json.dumps({"cn-east-3": "0e3c0ffee0e3c0ffee0e3c0ffee0e3c0"}))
    data = png_bytes()
    keys = ["cards/a.png", "cards/b.png", "scans/c.png"]
    for key in keys:
        p.put("ocrflow-uploads", key, data)
    summary = p.invoke(obs_trigger(data, *keys))
    assert summary["counts"]["results"] == 3
    [sent] = cloud_eye.received
    pairs = points_by_pair(sent.body)
    assert set(pairs) == {("id-card", "cn-east-3"), ("general-text", "cn-north-4")}
    assert pairs["id-card", "cn-east-3"]["OcrCallsTotal"]["value"] == 2
    assert pairs["general-text", "cn-north-4"]["OcrCallsTotal"]["value"] == 1
    assert {pt["metric"]["namespace"] for pair in pairs.values() for pt in pair.values()} == {
        "Acme_Docs.OCR_usage"}
    # the next invocation counts afresh
    p.put("ocrflow-uploads", "scans/d.png", data)
    p.invoke(obs_trigger(data, "scans/d.png"))
    assert len(cloud_eye.received) == 2
    assert set(points_by_pair(cloud_eye.received[1].body)) == {("general-text", "cn-north-4")}


def test_the_eventgrid_sample_is_processed_and_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        cloud_eye: ReplayServer) -> None:
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye)
    event = load_event("functiongraph_eventgrid_obs.json")
    data = png_bytes()
    event["data"]["obs"]["object"].update(size=len(data), eTag=hashlib.md5(data).hexdigest())  # noqa: S324
    p.put("ocrflow-uploads", event["subject"], data)
    context = FunctionGraphContext()
    summary = p.invoke(event, context)
    assert summary["counts"]["results"] == 1
    [message] = p.results()
    assert message["subject"] == "invoices/2026/发票 12.png"
    assert len(cloud_eye.received) == 1
    assert replay.received[0].headers["X-Security-Token"] == context.security_token


@pytest.mark.parametrize("answer", [Answer(status=500, body={"error": {"code": "ces.0500",
                                                                        "message": "busy"}}),
                                    Answer(status=403, body={"error_code": "CES.0003"}),
                                    Answer(drop=True)],
                         ids=["500", "403", "dropped"])
def test_a_cloud_eye_failure_never_fails_a_record_and_keeps_the_counts_in_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer, cloud_eye: ReplayServer,
        capsys: pytest.CaptureFixture[str], answer: Answer) -> None:
    cloud_eye.default = answer
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye)
    data = png_bytes()
    p.put("ocrflow-uploads", "a.png", data)
    context = FunctionGraphContext()
    summary = p.invoke(obs_trigger(data, "a.png"), context)
    assert summary["counts"] == {"records": 1, "results": 1, "failures": 0, "duplicates": 0,
                                 "ignored": 0, "unpublished": 0}
    assert len(p.results()) == 1
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [warning] = [line for line in logs if line.get("message") == "metrics not sent to Cloud Eye"]
    assert warning["level"] == "WARNING"
    counts = warning["metrics"]["general-text"]["cn-north-4"]
    assert (counts["total"], counts["success"], counts["failed"], counts["billed"]) == (1, 1, 0, 1)
    text = json.dumps(warning)
    for secret in (context.secret_key, context.security_token, "Signature="):
        assert secret not in text


def test_an_unreachable_cloud_eye_costs_at_most_its_timeouts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    import time

    slow = ReplayServer(hold_s=5.0)  # answers after the read timeout
    try:
        p = make_functiongraph_platform(tmp_path, monkeypatch, replay.url + "/{region}",
                                        CES_ENDPOINT=slow.url)
        data = png_bytes()
        p.put("ocrflow-uploads", "a.png", data)
        started = time.monotonic()
        summary = p.invoke(obs_trigger(data, "a.png"))
        elapsed = time.monotonic() - started
    finally:
        slow.stop()
    assert summary["counts"]["results"] == 1
    assert elapsed < 4.5, elapsed  # the 2 s read timeout, not the 5 s answer
    assert "ReadTimeout" in capsys.readouterr().err


def test_with_an_iam_token_instead_of_an_agency_cloud_eye_gets_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
        cloud_eye: ReplayServer) -> None:
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye, OCR_IAM_TOKEN="MIIiamtokenforocrandces")

    class NoAgency(FunctionGraphContext):
        def getSecurityAccessKey(self) -> str:  # noqa: N802
            return ""

    data = png_bytes()
    p.put("ocrflow-uploads", "a.png", data)
    p.invoke(obs_trigger(data, "a.png"), NoAgency())
    [sent] = cloud_eye.received
    assert sent.headers["X-Auth-Token"] == "MIIiamtokenforocrandces"
    assert "Authorization" not in sent.headers


@pytest.mark.parametrize("mode, lines", [("emf", 1), ("none", 0)])
def test_emf_and_none_send_nothing_to_cloud_eye(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer, cloud_eye: ReplayServer,
        capsys: pytest.CaptureFixture[str], mode: str, lines: int) -> None:
    p = functiongraph(tmp_path, monkeypatch, replay, cloud_eye, OCR_METRICS=mode)
    data = png_bytes()
    p.put("ocrflow-uploads", "a.png", data)
    p.invoke(obs_trigger(data, "a.png"))
    assert cloud_eye.received == []
    emf = [line for line in capsys.readouterr().err.splitlines() if '"_aws"' in line]
    assert len(emf) == lines


def test_emf_stays_the_default_on_lambda_and_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     replay: ReplayServer,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RUNTIME_CODE_ROOT", raising=False)
    assert load_settings({}).metrics == "emf"
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}")
    p.put("ocrflow-uploads", "a.png", png_bytes())
    p.invoke(s3_event("a.png"))
    assert [line for line in capsys.readouterr().err.splitlines() if '"_aws"' in line]


@pytest.mark.parametrize("env, variable", [
    ({"OCR_METRICS": "cloudwatch"}, "OCR_METRICS"),
    ({"OCR_METRICS_NAMESPACE": "OCR"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "SYS.OCR"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "sre_x.ocr"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "OC.OCR"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "OCRFLOW.O-CR"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "1OCR.OCR"}, "OCR_METRICS_NAMESPACE"),
    ({"OCR_METRICS_NAMESPACE": "A" * 33 + ".OCR"}, "OCR_METRICS_NAMESPACE"),
    ({"CES_ENDPOINT": "ces.cn-north-4.myhuaweicloud.com"}, "CES_ENDPOINT"),
    ({"CES_ENDPOINT": "https://ces.{zone}.myhuaweicloud.com"}, "CES_ENDPOINT"),
    ({"CES_ENDPOINT": "https://user:pw@ces.{region}.myhuaweicloud.com"}, "CES_ENDPOINT"),
])
def test_a_bad_metrics_setting_stops_the_start_naming_its_variable(env: dict[str, str],
                                                                   variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert str(err.value).startswith(variable + ":")


def test_namespaces_cloud_eye_takes() -> None:
    for good in ("OCRFLOW.OCR", "abc.def", "A_1.b_2", "A" * 32 + "." + "b" * 32):
        assert namespace_problem(good) is None, good
    settings = load_settings({"OCR_METRICS": "CES", "CES_ENDPOINT": "https://ces.{region}.example.com/"})
    assert settings.metrics == "ces"
