"""Trace context across the hop: what trace a record belongs to, as W3C Trace Context.

A record continues the trace it arrived with, in this order:

1. an SQS record's ``attributes.AWSTraceHeader`` (X-Ray: ``Root=1-5759e988-bd86…;Parent=5399…;
   Sampled=1``; the Root's two hex parts are the W3C trace id, Parent the parent span);
2. W3C ``traceparent`` / ``tracestate`` that the message itself carries: SQS message
   attributes (as the CloudEvents SQS binding and OpenTelemetry name them) or the CloudEvents
   distributed-tracing extension of a CloudEvent (EventGrid, also on FunctionGraph);
3. the invocation's own trace: the W3C context Lambda hands the function (``context.w3c()``
   of the runtime interface client, from the invocation's client context), else X-Ray's
   ``_X_AMZN_TRACE_ID``, set per invocation by the Lambda runtime;
4. else a new trace, with an X-Ray-compatible id (its first 8 hex digits are the time) so
   one id works in X-Ray and in any W3C backend.

Nothing here raises on a malformed header: a context that cannot be read is skipped.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Origin = Literal["sqs", "message", "invocation", "new"]

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_XRAY_ROOT = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
#: W3C: at most 32 list members; vendors' entries are opaque to us.
_TRACESTATE_MAX_MEMBERS = 32
_TRACESTATE_MAX_CHARS = 512


@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 lower-case hex digits
    parent_id: str  # 16 lower-case hex digits: the span the next hop is a child of
    sampled: bool
    tracestate: str | None = None
    origin: Origin = "new"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{'01' if self.sampled else '00'}"

    @property
    def xray_trace_id(self) -> str:
        """The trace id in X-Ray's form, as Powertools logs it (``xray_trace_id``)."""
        return f"1-{self.trace_id[:8]}-{self.trace_id[8:]}"

    def headers(self) -> dict[str, str]:
        """``traceparent`` and, when there is one, ``tracestate``."""
        out = {"traceparent": self.traceparent}
        if self.tracestate:
            out["tracestate"] = self.tracestate
        return out


def _valid_ids(trace_id: str, parent_id: str) -> bool:
    return (bool(_HEX32.fullmatch(trace_id)) and trace_id != "0" * 32
            and bool(_HEX16.fullmatch(parent_id)) and parent_id != "0" * 16)


def new_span_id() -> str:
    while True:
        span = secrets.token_hex(8)
        if span != "0" * 16:
            return span


def new_trace() -> TraceContext:
    trace_id = f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(12)}"
    return TraceContext(trace_id, new_span_id(), sampled=False, origin="new")


def parse_traceparent(value: Any, tracestate: Any = None,
                      origin: Origin = "message") -> TraceContext | None:
    """A W3C ``traceparent`` (version 00, or a later version read as 00 as the spec asks)."""
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or not _valid_ids(trace_id, parent_id):
        return None
    return TraceContext(trace_id, parent_id, sampled=bool(int(flags, 16) & 1),
                        tracestate=clean_tracestate(tracestate), origin=origin)


def clean_tracestate(value: Any) -> str | None:
    """``tracestate`` kept as given (it belongs to the vendors in it), within the W3C bounds;
    an over-long one is cut at a member boundary rather than dropped whole."""
    if not isinstance(value, str):
        return None
    # W3C allows printable ASCII only; a member with anything else (a lone surrogate, CR/LF
    # that would end a header) is dropped, so it can break neither a message nor a header
    members = [m.strip() for m in value.split(",") if m.strip() and "=" in m
               and all(" " <= c <= "~" for c in m.strip())]
    kept: list[str] = []
    for member in members[:_TRACESTATE_MAX_MEMBERS]:
        if len(",".join([*kept, member])) > _TRACESTATE_MAX_CHARS:
            break
        kept.append(member)
    return ",".join(kept) or None


def parse_xray(header: Any, origin: Origin = "sqs") -> TraceContext | None:
    """An X-Ray trace header (``Root=1-…;Parent=…;Sampled=1``, fields in any order). Without
    a Parent the trace is continued under a new span id."""
    if not isinstance(header, str):
        return None
    fields: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip().lower()
    root = _XRAY_ROOT.fullmatch(fields.get("root", ""))
    if root is None:
        return None
    trace_id = root.group(1) + root.group(2)
    parent_id = fields.get("parent") or new_span_id()
    if not _valid_ids(trace_id, parent_id):
        return None
    return TraceContext(trace_id, parent_id, sampled=fields.get("sampled") == "1", origin=origin)


def _attribute(attributes: Any, name: str) -> str | None:
    """A string message attribute of an SQS record, in the Lambda event's spelling
    (``stringValue``) or the SQS API's (``StringValue``)."""
    if not isinstance(attributes, Mapping):
        return None
    for key, value in attributes.items():
        if str(key).lower() == name and isinstance(value, Mapping):
            text = value.get("stringValue", value.get("StringValue"))
            return text if isinstance(text, str) else None
    return None


def from_sqs_record(record: Mapping[str, Any]) -> TraceContext | None:
    """What an SQS record of a Lambda event carries: ``AWSTraceHeader`` first, else W3C
    message attributes."""
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping):
        found = parse_xray(attributes.get("AWSTraceHeader"), origin="sqs")
        if found is not None:
            return found
    messages = record.get("messageAttributes")
    return parse_traceparent(_attribute(messages, "traceparent"),
                             _attribute(messages, "tracestate"), origin="message")


def from_cloudevent(event: Mapping[str, Any]) -> TraceContext | None:
    """The CloudEvents distributed-tracing extension of a CloudEvent (EventGrid)."""
    return parse_traceparent(event.get("traceparent"), event.get("tracestate"), origin="message")


def from_invocation(context: Any = None,
                    environ: Mapping[str, str] | None = None) -> TraceContext | None:
    """The invocation's trace: W3C from the Lambda context (``w3c()``), else the X-Ray
    header the Lambda runtime puts in ``_X_AMZN_TRACE_ID``. FunctionGraph's context has no
    trace method: there, only what the event carries is continued."""
    w3c = getattr(context, "w3c", None)
    if callable(w3c):
        try:
            fields = w3c()
        except Exception:  # noqa: BLE001 - a context helper must never break the invocation
            fields = None
        if isinstance(fields, Mapping):
            found = parse_traceparent(fields.get("traceparent"), fields.get("tracestate"),
                                      origin="invocation")
            if found is not None:
                return found
    env = os.environ if environ is None else environ
    return parse_xray(env.get("_X_AMZN_TRACE_ID"), origin="invocation")


def for_message(message: Any) -> TraceContext | None:
    """The trace context a delivery unit of an event carries: an SQS record, or a
    CloudEvent (EventGrid). Other shapes (S3, OBS, EventBridge notifications) carry none."""
    if not isinstance(message, Mapping):
        return None
    if message.get("eventSource") == "aws:sqs":
        return from_sqs_record(message)
    if "specversion" in message:
        return from_cloudevent(message)
    return None


def choose(*candidates: TraceContext | None) -> TraceContext:
    """The first context found, else a new trace."""
    for candidate in candidates:
        if candidate is not None:
            return candidate
    return new_trace()
