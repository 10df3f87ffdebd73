"""Credentials, signatures, tokens, image bytes and whole events never reach a log line,
a metric line or a message, in any scenario."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest

from ocrflow.handler import RecordsNotPublished, handle
from tests.conftest import load_event
from tests.support.harness import make_harness
from tests.support.replay_server import Answer, ReplayServer
from tests.unit.test_pipeline import FlakyQueue, png_bytes, s3_event

AK = "AKFAKEACCESSKEY0001"
SK = "SKFAKE-secret-0123456789abcdef"
TOKEN = "TOKENFAKE-temporary-security-token-xyz"
IAM = "IAMFAKE-iam-token-0123456789"
TMP_AK, TMP_SK, TMP_TOKEN = "TMPAKFAKE0002", "TMPSKFAKE-secret-xyz", "TMPTOKENFAKE-abc"


class FgContext:
    def getRequestID(self) -> str: return "req"  # noqa: E704
    def getSecurityAccessKey(self) -> str: return TMP_AK  # noqa: E704
    def getSecuritySecretKey(self) -> str: return TMP_SK  # noqa: E704
    def getSecurityToken(self) -> str: return TMP_TOKEN  # noqa: E704


def test_no_secret_appears_anywhere(tmp_path: Path, replay: ReplayServer, log_lines: io.StringIO,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    image = png_bytes(150, 70)
    outputs: list[str] = []

    def scenario(name: str, env: dict[str, str], answers: list[Answer], event: Any,
                 context: Any = None, flaky: bool = False) -> None:
        h = make_harness(tmp_path / name, replay.url + "/{region}", **env)
        h.put("ocrflow-uploads", "doc.png", image)
        replay.script(*answers)
        if flaky:
            h.rt._queues["result"] = FlakyQueue(h.rt.queue("result"))
        try:
            handle(event, context, rt=h.rt)
        except RecordsNotPublished:
            pass
        outputs.extend(str(m) for m in h.failures())
        outputs.extend(str(m) for m in h.rt.queue("result").dump())
        h.close()

    creds = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_SECURITY_TOKEN": TOKEN}
    err = lambda code, status: Answer(status, {"error_code": code, "error_msg": "refused"})  # noqa: E731
    scenario("ok", creds, [Answer()], s3_event("doc.png"))
    scenario("auth", creds, [err("APIG.0301", 401)], s3_event("doc.png"))
    scenario("region", creds, [err("ModelArts.4204", 403)], s3_event("doc.png"))
    scenario("retries", creds, [err("APIG.0308", 429), Answer(drop=True), err("APIG.0201", 504)],
             s3_event("doc.png"))
    scenario("queue-down", creds, [Answer()], s3_event("doc.png"), flaky=True)
    scenario("invalid", creds, [], {"Records": [{"s3": {"object": {"key": "k"}}}]})
    scenario("iam", {"HUAWEICLOUD_SDK_AK": "", "HUAWEICLOUD_SDK_SK": "", "OCR_IAM_TOKEN": IAM},
             [Answer()], s3_event("doc.png"))
    scenario("functiongraph", {"HUAWEICLOUD_SDK_AK": "", "HUAWEICLOUD_SDK_SK": ""}, [Answer()],
             load_event("s3_put.json") | {"Records": s3_event("doc.png")["Records"]}, FgContext())

    signatures = {m.group(1) for r in replay.received
                  for m in [re.search(r"Signature=([0-9a-f]{64})", r.headers.get("Authorization", ""))] if m}
    signed = [r for r in replay.received if "Authorization" in r.headers]
    assert len(signed) >= 7 and signatures  # the scenarios really signed requests
    captured = capsys.readouterr()
    text = "\n".join([log_lines.getvalue(), captured.out, captured.err, *outputs])
    assert '"message": "invocation started"' in text  # the logs were captured
    forbidden = [SK, TOKEN, IAM, TMP_SK, TMP_TOKEN, AK, TMP_AK, *signatures,
                 base64.b64encode(image).decode()[:40], "SDK-HMAC-SHA256"]
    leaks = [s for s in forbidden if s in text]
    assert leaks == []
