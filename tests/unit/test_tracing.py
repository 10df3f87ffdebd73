"""Trace context continued across the hop (W3C Trace Context from X-Ray and CloudEvents)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ocrflow.core import tracing

EVENTS = Path(__file__).parents[1] / "events"
XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_xray_header_becomes_w3c_traceparent() -> None:
    ctx = tracing.parse_xray(XRAY)
    assert ctx is not None
    assert ctx.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert ctx.parent_id == "53995c3f42cd8ad8"
    assert ctx.traceparent == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    assert ctx.xray_trace_id == "1-5759e988-bd862e3fe1be46a994272793"


def test_xray_header_fields_in_any_order_and_not_sampled() -> None:
    ctx = tracing.parse_xray("Sampled=0;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;"
                             "Lineage=a87bd80c:1")
    assert ctx is not None and ctx.traceparent.endswith("-53995c3f42cd8ad8-00")


def test_xray_root_without_parent_continues_the_trace_under_a_new_span() -> None:
    ctx = tracing.parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793")
    assert ctx is not None and ctx.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert re.fullmatch(r"[0-9a-f]{16}", ctx.parent_id) and ctx.parent_id != "0" * 16


def test_malformed_headers_are_skipped_not_raised() -> None:
    for bad in (None, "", "Root=2-5759e988-bd86", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz",
                "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8", 42):
        assert tracing.parse_xray(bad) is None
    for bad in ("00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
                "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra", "junk"):
        assert tracing.parse_traceparent(bad) is None


def test_a_later_traceparent_version_is_read_as_version_00() -> None:
    ctx = tracing.parse_traceparent("01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-future")
    assert ctx is not None and ctx.traceparent.startswith("00-5759e988")


def _sqs_record(**extra: object) -> dict[str, object]:
    record = json.loads((EVENTS / "sqs_batch_s3.json").read_text())["Records"][0]
    record.update(extra)
    return record


def test_sqs_record_aws_trace_header_comes_first() -> None:
    record = _sqs_record(
        attributes={"AWSTraceHeader": XRAY, "ApproximateReceiveCount": "1"},
        messageAttributes={"traceparent": {"dataType": "String", "stringValue":
                                           "00-11111111111111111111111111111111-2222222222222222-01"}})
    ctx = tracing.for_message(record)
    assert ctx is not None and ctx.origin == "sqs" and ctx.trace_id.startswith("5759e988")


def test_sqs_record_w3c_message_attributes_with_tracestate() -> None:
    record = _sqs_record(attributes={}, messageAttributes={
        "traceparent": {"stringValue": "00-11111111111111111111111111111111-2222222222222222-01",
                        "dataType": "String"},
        "tracestate": {"stringValue": "vendor=abc,other=1", "dataType": "String"}})
    ctx = tracing.for_message(record)
    assert ctx is not None
    assert ctx.headers() == {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01",
                             "tracestate": "vendor=abc,other=1"}


def test_eventgrid_cloudevent_distributed_tracing_extension() -> None:
    event = json.loads((EVENTS / "eventgrid_obs.json").read_text())
    assert tracing.for_message(event) is None  # OBS through EventGrid carries none by itself
    event["traceparent"] = "00-11111111111111111111111111111111-2222222222222222-00"
    event["tracestate"] = "hw=1"
    ctx = tracing.for_message(event)
    assert ctx is not None and ctx.tracestate == "hw=1" and not ctx.sampled


def test_invocation_trace_then_a_new_trace() -> None:
    expected = tracing.parse_xray(XRAY, origin="invocation")
    assert tracing.from_invocation(None, {"_X_AMZN_TRACE_ID": XRAY}) == expected
    chosen = tracing.choose(None, tracing.from_invocation(None, {}))
    assert chosen.origin == "new"
    # a new trace id is X-Ray compatible: its first 8 hex digits are the epoch seconds
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", chosen.traceparent)
    assert tracing.parse_xray(f"Root={chosen.xray_trace_id}") is not None
    assert tracing.choose(None, None).trace_id != chosen.trace_id


def test_tracestate_over_the_w3c_bounds_is_cut_at_a_member() -> None:
    members = [f"v{i}=" + "x" * 20 for i in range(40)]
    kept = tracing.clean_tracestate(",".join(members))
    assert kept is not None and len(kept) <= 512 and kept.split(",") == members[:len(kept.split(","))]


def test_the_lambda_contexts_w3c_trace_comes_before_x_ray() -> None:
    class Context:  # awslambdaric's LambdaContext.w3c(): from the invocation's client context
        def w3c(self) -> dict[str, str]:
            return {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01",
                    "tracestate": "ot=p:8"}

    ctx = tracing.from_invocation(Context(), {"_X_AMZN_TRACE_ID": XRAY})
    assert ctx is not None and ctx.trace_id == "1" * 32 and ctx.tracestate == "ot=p:8"

    class NoTrace:
        def w3c(self) -> dict[str, str]:
            return {}

    assert tracing.from_invocation(NoTrace(), {"_X_AMZN_TRACE_ID": XRAY}) == tracing.parse_xray(
        XRAY, origin="invocation")
