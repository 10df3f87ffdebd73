"""The signed request goes to the endpoint or nowhere: a redirect is a coded failure, never
followed; credentials a server echoes back never reach a message or a log line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import Answer, Received, ReplayServer
from tests.unit.test_bucket_names import eventbridge
from tests.unit.test_pipeline import png_bytes

AK = "HSTAKEXAMPLE0123456789"
SK = "sk-Secret/Value+With=Symbols0123456789"
TOKEN = "tok-" + "T0k3nBody" * 40
IAM_TOKEN = "MIIEchoedIamToken" + "A" * 200


def echo_headers(received: Received) -> Answer:
    """A provider error whose message repeats the request's headers, the way a misconfigured
    gateway or proxy may."""
    headers = received.headers
    echoed = "; ".join(f"{k}: {v}" for k, v in headers.items())
    return Answer(status=400, body={"error_code": "AIS.0101",
                                    "error_msg": f"The request is invalid. Headers: {echoed}. "
                                                 f"Raw: {json.dumps(headers)}"})


@pytest.fixture
def echo() -> Iterator[ReplayServer]:
    server = ReplayServer(respond=echo_headers)
    yield server
    server.stop()


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    tear_down()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_coded_failure_and_is_never_followed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleanup: None, status: int,
        validate_message: Any) -> None:
    first, elsewhere = ReplayServer(), ReplayServer()
    try:
        first.default = Answer(status=status, body=b"", headers={
            "Location": elsewhere.url + "/v2/steal"})
        p = make_platform(tmp_path, monkeypatch, first.url + "/{region}")
        p.put("ocrflow-uploads", "a.png", png_bytes())
        answer = p.invoke(eventbridge("ocrflow-uploads", "a.png"))
        assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
        [failure] = [validate_message(m) for m in p.failures()]
        error = failure["data"]["error"]
        assert error["code"] == "OCRFLOW.REDIRECTED" and error["http_status"] == status
        assert str(status) in error["message"] and error["retryable"] is False
        assert p.results() == []
        assert len(first.received) == 1  # not retried either
        assert elsewhere.received == []  # neither the token nor the image went there
    finally:
        first.stop()
        elsewhere.stop()


def run_against_echo(p: Platform) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    p.put("ocrflow-uploads", "a.png", png_bytes())
    answer = p.invoke(eventbridge("ocrflow-uploads", "a.png"))
    return answer, p.failures()


def assert_absent(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def test_aksk_token_and_signature_echoed_by_the_provider_are_stripped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo: ReplayServer, cleanup: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    p = make_platform(tmp_path, monkeypatch, echo.url + "/{region}", HUAWEICLOUD_SDK_AK=AK,
                      HUAWEICLOUD_SDK_SK=SK, HUAWEICLOUD_SDK_SECURITY_TOKEN=TOKEN)
    answer, failures = run_against_echo(p)
    [sent] = [r.headers for r in echo.received]
    signature = sent["Authorization"].rpartition("Signature=")[2]
    assert TOKEN == sent["X-Security-Token"] and len(signature) == 64  # they were echoed
    [failure] = failures
    message = failure["data"]["error"]["message"]
    assert failure["data"]["error"]["code"] == "AIS.0101" and "The request is invalid" in message
    logs = capsys.readouterr().err
    for text in (json.dumps(failure), json.dumps(answer), logs):
        assert_absent(text, AK, SK, TOKEN, signature, TOKEN[:40])


def test_an_iam_token_echoed_by_the_provider_is_stripped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo: ReplayServer, cleanup: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    p = make_platform(tmp_path, monkeypatch, echo.url + "/{region}", HUAWEICLOUD_SDK_AK="",
                      HUAWEICLOUD_SDK_SK="", OCR_IAM_TOKEN=IAM_TOKEN)
    _, [failure] = run_against_echo(p)
    assert echo.received[0].headers["X-Auth-Token"] == IAM_TOKEN
    logs = capsys.readouterr().err
    for text in (json.dumps(failure), logs):
        assert_absent(text, IAM_TOKEN, IAM_TOKEN[:30])


def test_functiongraph_temporary_keys_echoed_back_are_stripped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo: ReplayServer, cleanup: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Keys that were never in the environment: FunctionGraph hands them in the context."""
    p = make_platform(tmp_path, monkeypatch, echo.url + "/{region}", HUAWEICLOUD_SDK_AK="",
                      HUAWEICLOUD_SDK_SK="")

    class Context:
        def getRequestID(self) -> str:  # noqa: N802 - FunctionGraph's names
            return "req-1"

        def getSecurityAccessKey(self) -> str:  # noqa: N802
            return AK

        def getSecuritySecretKey(self) -> str:  # noqa: N802
            return SK

        def getSecurityToken(self) -> str:  # noqa: N802
            return TOKEN

        def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802
            return 60_000

    p.put("ocrflow-uploads", "a.png", png_bytes())
    p.handler(eventbridge("ocrflow-uploads", "a.png"), Context())
    [failure] = p.failures()
    assert echo.received[0].headers["X-Security-Token"] == TOKEN
    for text in (json.dumps(failure), capsys.readouterr().err):
        assert_absent(text, AK, SK, TOKEN[:40])
