"""Log lines in Powertools' structured format; usage metrics in EMF."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from ocrflow.handler import handle
from ocrflow.observability.metrics import Metrics
from tests.support.harness import make_harness
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes, s3_event

TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000$")


class LambdaContext:
    function_name = "ocrflow-recognize"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ocrflow-recognize"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_line_is_one_powertools_json_object(tmp_path: Path, replay: ReplayServer,
                                                  log_lines: io.StringIO) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}")
    h.put("ocrflow-uploads", "a.png", png_bytes())
    handle(s3_event("a.png"), LambdaContext(), rt=h.rt)
    handle(s3_event("a.png"), LambdaContext(), rt=h.rt)
    out = lines(log_lines)
    assert out, "no log lines"
    first = out[0]
    assert list(first)[:5] == ["level", "location", "message", "timestamp", "service"]
    for line in out:
        assert line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"}
        assert re.match(r"^[\w<>]+:\d+$", line["location"])
        assert TS.match(line["timestamp"])
        assert line["function_name"] == "ocrflow-recognize"
        assert line["function_memory_size"] == 512
        assert line["function_arn"].endswith(":function:ocrflow-recognize")
        assert line["function_request_id"] == "c6af9ac6-7b61-11e6-9a41-93e812345678"
    assert first["message"] == "invocation started"
    colds = [line["cold_start"] for line in out if line["message"] == "invocation started"]
    assert colds[1] is False
    processed = [line for line in out if line["message"] == "record processed"]
    assert processed[0]["key"] == "a.png" and processed[0]["status"] == "result"
    h.close()


def test_functiongraph_context_fills_the_same_keys(tmp_path: Path, replay: ReplayServer,
                                                   log_lines: io.StringIO) -> None:
    class FgContext:
        def getRequestID(self) -> str: return "fg-req-1"  # noqa: E704
        def getFunctionName(self) -> str: return "ocrflow-fg"  # noqa: E704
        def getMemorySize(self) -> int: return 256  # noqa: E704
        def getSecurityAccessKey(self) -> str: return "TMPAK"  # noqa: E704
        def getSecuritySecretKey(self) -> str: return "TMPSK"  # noqa: E704
        def getSecurityToken(self) -> str: return "TMPTOKEN"  # noqa: E704
        def getRemainingTimeInMilliSeconds(self) -> int: return 30_000  # noqa: E704

    h = make_harness(tmp_path, replay.url + "/{region}", HUAWEICLOUD_SDK_AK="", HUAWEICLOUD_SDK_SK="")
    h.put("ocrflow-uploads", "a.png", png_bytes())
    handle(s3_event("a.png"), FgContext(), rt=h.rt)
    line = lines(log_lines)[0]
    assert (line["function_name"], line["function_request_id"], line["function_memory_size"]) == (
        "ocrflow-fg", "fg-req-1", 256)
    sent = replay.received[0].headers
    assert sent["X-Security-Token"] == "TMPTOKEN" and "Access=TMPAK," in sent["Authorization"]
    h.close()


def test_sensitive_keys_are_redacted(log_lines: io.StringIO) -> None:
    from ocrflow.observability.log import get_logger
    get_logger().info("calling", authorization="SDK-HMAC-SHA256 Access=x, Signature=abc",
                      image="aGVsbG8=", sk="secret", api="general-text")
    [line] = lines(log_lines)
    assert line["authorization"] == line["image"] == line["sk"] == "***"
    assert line["api"] == "general-text" and line["message"] == "calling"


def test_exceptions_carry_name_and_trace(log_lines: io.StringIO) -> None:
    from ocrflow.observability.log import get_logger
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger().exception("failed")
    [line] = lines(log_lines)
    assert line["level"] == "ERROR" and line["exception_name"] == "ValueError"
    assert "Traceback" in line["exception"] and line["stack_trace"]["type"] == "ValueError"


def test_log_level_is_honoured() -> None:
    from ocrflow.observability import log
    stream = io.StringIO()
    log._configured = None
    log.configure("svc", "WARNING", stream)
    log.get_logger().info("hidden")
    log.get_logger().warning("shown")
    log._configured = None
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["shown"]


def test_emf_document_per_api_and_region() -> None:
    stream = io.StringIO()
    m = Metrics("ocrflow", "svc", stream)
    m.record_call("general-text", "cn-north-4", True, 12.5)
    m.record_call("general-text", "cn-north-4", False, 3.0)
    m.record_call("passport", "ap-southeast-1", True, 40.0)
    m.flush()
    docs = [json.loads(x) for x in stream.getvalue().splitlines()]
    by = {(d["api"], d["region"]): d for d in docs}
    gt = by[("general-text", "cn-north-4")]
    assert (gt["OcrCallsTotal"], gt["OcrCallsSuccess"], gt["OcrCallsFailed"]) == (2, 1, 1)
    assert gt["OcrCallDuration"] == [12.5, 3.0]
    spec = gt["_aws"]["CloudWatchMetrics"][0]
    assert spec["Namespace"] == "ocrflow" and spec["Dimensions"] == [["service", "api", "region"]]
    assert {x["Name"] for x in spec["Metrics"]} == {"OcrCallsTotal", "OcrCallsSuccess",
                                                   "OcrCallsFailed", "OcrBilledUnits",
                                                   "OcrCallDuration"}
    assert by[("passport", "ap-southeast-1")]["OcrCallsTotal"] == 1
    assert m.snapshot() == {}  # flushed
