"""Provider answers map to outcomes by status and error_code; retries only where they help."""

from __future__ import annotations

import base64
import json
import time

import pytest

from ocrflow.config.settings import load_settings
from ocrflow.core.signer import Credentials, verify
from ocrflow.observability.metrics import Metrics
from ocrflow.provider.client import OcrClient, wrap_base64
from tests.support.replay_server import OK_RESULT, Answer, ReplayServer

CREDS = Credentials("TESTAK", "TESTSK")


def client_for(server: ReplayServer, **env: str) -> tuple[OcrClient, Metrics]:
    settings = load_settings({"OCR_ENDPOINT": server.url + "/{region}", "OCR_PROJECT_ID": "proj",
                              "OCR_MAX_ATTEMPTS": "4", "OCR_READ_TIMEOUT_S": "2", **env})
    metrics = Metrics("ns", "svc")
    return OcrClient(settings, metrics, sleep=lambda s: None), metrics


def call(client: OcrClient, deadline_s: float = 30, creds: Credentials | None = CREDS):
    return client.call("general-text", "cn-north-4", b'{"image":"AAAA"}',
                       time.monotonic() + deadline_s, creds)


def err(code: str, status: int) -> Answer:
    return Answer(status, {"error_code": code, "error_msg": f"message for {code}"})


def test_success_is_signed_verifiable_and_keeps_the_result_verbatim(replay: ReplayServer) -> None:
    client, metrics = client_for(replay)
    out = call(client)
    assert out.ok and out.result == OK_RESULT["result"]
    assert (out.attempts, out.request_id) == (1, "req-1")
    got = replay.received[0]
    assert got.path == "/cn-north-4/v2/proj/ocr/general-text"
    assert got.headers["Content-Type"] == "application/json;charset=utf8"
    assert got.headers["X-Project-Id"] == "proj"
    assert verify("POST", got.path, "", got.headers, got.body, {"TESTAK": "TESTSK"}) == "TESTAK"
    assert metrics.snapshot() == {"general-text": {"cn-north-4": {"total": 1, "success": 1, "failed": 0}}}


@pytest.mark.parametrize("code, status", [
    ("AIS.0101", 400), ("AIS.0102", 400), ("AIS.0103", 400), ("AIS.0104", 400), ("AIS.0105", 400),
    ("ModelArts.4204", 403), ("ModelArts.4101", 401), ("ModelArts.4103", 403),
    ("ModelArts.4601", 400), ("ModelArts.4706", 400), ("APIG.0301", 401), ("APIG.0307", 401),
])
def test_permanent_failures_are_never_retried(replay: ReplayServer, code: str, status: int) -> None:
    replay.script(err(code, status))
    client, metrics = client_for(replay)
    out = call(client)
    assert out.failure is not None
    assert (out.failure.code, out.failure.http_status, out.failure.source, out.failure.retryable) == (
        code, status, "provider", False)
    # the provider's own words come first; wrong-place codes add where the API is offered
    assert out.failure.message.startswith(f"message for {code}")
    assert out.attempts == 1 and len(replay.received) == 1
    assert metrics.snapshot()["general-text"]["cn-north-4"] == {"total": 1, "success": 0, "failed": 1}


@pytest.mark.parametrize("first", [err("APIG.0308", 429), err("ModelArts.4401", 429),
                                   err("APIG.0201", 504), err("ModelArts.0500", 500),
                                   Answer(503, b"<html>busy</html>"), Answer(drop=True)])
def test_throttling_5xx_and_dropped_connections_are_retried(replay: ReplayServer, first: Answer) -> None:
    replay.script(first, first)
    client, metrics = client_for(replay)
    out = call(client)
    assert out.ok and out.attempts == 3
    assert metrics.snapshot()["general-text"]["cn-north-4"] == {"total": 3, "success": 1, "failed": 2}


def test_attempts_are_bounded_and_the_last_failure_is_kept(replay: ReplayServer) -> None:
    replay.default = err("APIG.0308", 429)
    client, _ = client_for(replay)
    out = call(client)
    assert out.failure is not None and out.failure.code == "APIG.0308" and out.failure.retryable
    assert out.attempts == 4 == len(replay.received)


def test_deadline_stops_retries(replay: ReplayServer) -> None:
    replay.default = err("APIG.0308", 429)
    client, _ = client_for(replay)
    out = call(client, deadline_s=2.0)
    assert out.attempts == 1


def test_read_timeout_is_a_retryable_unanswered_call(replay: ReplayServer) -> None:
    client, metrics = client_for(replay, OCR_READ_TIMEOUT_S="0.3", OCR_MAX_ATTEMPTS="1")
    import threading
    gate = threading.Event()
    orig = replay.httpd.RequestHandlerClass.do_POST

    def slow(self):  # type: ignore[no-untyped-def]
        gate.wait(2)
        orig(self)
    replay.httpd.RequestHandlerClass.do_POST = slow
    try:
        out = call(client)
    finally:
        gate.set()
    assert out.failure is not None and out.failure.code == "OCRFLOW.TIMEOUT" and out.failure.retryable
    assert out.unanswered == 1
    assert metrics.snapshot()["general-text"]["cn-north-4"]["failed"] == 1


def test_refused_connection_is_transport_and_not_counted_as_a_call() -> None:
    settings = load_settings({"OCR_ENDPOINT": "http://127.0.0.1:9", "OCR_PROJECT_ID": "p",
                              "OCR_MAX_ATTEMPTS": "2"})
    metrics = Metrics("ns", "svc")
    out = OcrClient(settings, metrics, sleep=lambda s: None).call(
        "general-text", "cn-north-4", b"{}", time.monotonic() + 30, CREDS)
    assert out.failure is not None and out.failure.code == "OCRFLOW.TRANSPORT"
    assert out.attempts == 2 and metrics.snapshot() == {}


def test_auth_failures_stop_calling_before_the_gateway_locks_the_caller_out(replay: ReplayServer) -> None:
    replay.default = err("APIG.0301", 401)
    client, _ = client_for(replay)
    for _ in range(5):
        out = call(client)
        assert out.failure is not None and out.failure.code == "APIG.0301"
    assert len(replay.received) == 3  # calls stop after three 401s in a row


def test_iam_token_instead_of_aksk(replay: ReplayServer) -> None:
    client, _ = client_for(replay, OCR_IAM_TOKEN="iam-token-value")
    assert call(client, creds=None).ok
    got = replay.received[0].headers
    assert got["X-Auth-Token"] == "iam-token-value" and "Authorization" not in got


def test_missing_project_or_credentials_fail_without_a_call(replay: ReplayServer) -> None:
    client, _ = client_for(replay)
    out = call(client, creds=None)
    assert out.failure is not None and out.failure.code == "OCRFLOW.CONFIG_INVALID"
    settings = load_settings({"OCR_ENDPOINT": replay.url})
    out = OcrClient(settings).call("general-text", "cn-north-4", b"{}", time.monotonic() + 5, CREDS)
    assert out.failure is not None and "OCR_PROJECT_ID" in out.failure.message
    assert replay.received == []


def test_200_without_result_is_a_bad_response(replay: ReplayServer) -> None:
    replay.default = Answer(200, {"unexpected": True})
    client, _ = client_for(replay, OCR_MAX_ATTEMPTS="1")
    out = call(client)
    assert out.failure is not None and out.failure.code == "OCRFLOW.BAD_RESPONSE"


def test_the_body_is_valid_json_with_options() -> None:
    body = wrap_base64("image", base64.b64encode(b"\x00\x01\xff"),
                       {"detect_direction": True, "language": "中文"})
    assert json.loads(body) == {"image": "AAH/", "detect_direction": True, "language": "中文"}
    assert json.loads(wrap_base64("data", base64.b64encode(b"x"), {})) == {"data": "eA=="}


def test_proxy_from_the_environment_is_used_and_no_proxy_is_honoured(
        replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # the environment is read once per endpoint, not per request: still, a proxy set for
    # the function (a VPC egress proxy) must carry the calls, and NO_PROXY must bypass it
    proxy = ReplayServer()  # answers like the API and records the absolute-form request line
    try:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client, _ = client_for(replay)
        assert call(client).result == OK_RESULT["result"]
        assert [r.path.split("/v2/")[0] for r in proxy.received] == [replay.url + "/cn-north-4"]
        assert replay.received == []

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct, _ = client_for(replay)
        assert call(direct).result == OK_RESULT["result"]
        assert len(replay.received) == 1 and len(proxy.received) == 1
    finally:
        proxy.stop()


def test_error_retryable_has_one_meaning_written_in_the_failure_schema() -> None:
    """``error.retryable`` means the same for provider codes and ocrflow's: trying the same
    upload again later, unchanged, may succeed; the schema says so."""
    from ocrflow.contract import messages
    from ocrflow.core import retry

    def find(node: object) -> dict | None:
        if isinstance(node, dict):
            if isinstance(node.get("retryable"), dict):
                return node["retryable"]
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        return None

    described = find(messages.schema(messages.FAILURE_TYPE))
    assert described is not None and "later, unchanged" in described.get("description", "")
    assert retry.retryable(retry.is_retryable(429, "APIG.0308"), None)  # tried now, and later
    assert retry.retryable(False, "2026-12-05T09:15:22Z")  # later, from retry_after on
    assert not retry.retryable(retry.is_retryable(400, "AIS.0101"), None)
