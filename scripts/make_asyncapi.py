"""Writes shared/ocrflow/data/asyncapi.yaml: the AsyncAPI 3.0 document of ocrflow's result and
failure channels on every queue binding, generated from the shipped JSON Schemas.

    python scripts/make_asyncapi.py           # write it
    python scripts/make_asyncapi.py --check   # exit 1 when the file is not up to date
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "shared" / "ocrflow" / "data"
TARGET = DATA / "asyncapi.yaml"
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=UTF-8"

KINDS = {
    "result": ("ocr.result.v1", "OcrResult", "RESULT_QUEUE_URL",
               "A recognised upload: the provider's result verbatim (or `result_ref` to it when "
               "too large for the queue), `text` for text APIs."),
    "failure": ("ocr.failure.v1", "OcrFailure", "FAILURE_QUEUE_URL",
                "An upload that could not be recognised: `error` with the provider's or "
                "ocrflow's code."),
}

TRACE_HEADERS = {
    "traceparent": {"type": "string", "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                    "description": "W3C Trace Context: the upload's trace, continued"},
    "tracestate": {"type": "string", "description": "W3C Trace Context vendor state, when the "
                                                    "upload's trace carried one"},
}


REVIEW = {"type": "string", "const": "true",
          "description": "present on a result whose confidence.min is below OCR_REVIEW_BELOW "
                         "(the event's extension attribute `ocrreview`)"}


def _attributes(kind: str) -> dict[str, Any]:
    """Message attributes (SQS) / application headers (AMQP) / stream fields (Redis): for
    filtering without parsing."""
    props: dict[str, Any] = {
        "type": {"type": "string", "const": KINDS[kind][0]},
        "api": {"type": "string", "description": "the OCR API, e.g. general-text"},
        "region": {"type": "string", "description": "the region the API was called in"},
        **TRACE_HEADERS,
    }
    if kind == "failure":
        props["error_code"] = {"type": "string", "description": "data.error.code"}
    else:
        props["ocrreview"] = REVIEW
    return {"type": "object", "required": ["type", "traceparent"], "properties": props}


def _kafka_headers(kind: str) -> dict[str, Any]:
    """The CloudEvents Kafka binding's ``ce_`` headers beside a structured value."""
    props: dict[str, Any] = {
        "content-type": {"type": "string", "const": CLOUDEVENTS_JSON},
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string", "const": KINDS[kind][0]},
        "ce_subject": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_traceparent": TRACE_HEADERS["traceparent"],
        "ce_tracestate": TRACE_HEADERS["tracestate"],
        **TRACE_HEADERS,
    }
    if kind == "result":
        props["ce_ocrreview"] = REVIEW
    return {"type": "object", "required": ["content-type", "ce_id", "ce_type", "ce_traceparent"],
            "properties": props}


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """``#/$defs/X`` of a shipped schema → ``#/components/schemas/{prefix}X`` of the document."""
    if isinstance(node, dict):
        return {k: (f"#/components/schemas/{prefix}{v.removeprefix('#/$defs/')}"
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                    else _rewrite_refs(v, prefix)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    return node


def _schemas(kind: str) -> dict[str, Any]:
    """The shipped schema of ``kind`` and its ``$defs``, as components of the document."""
    name = KINDS[kind][1]
    schema = json.loads((DATA / "schemas" / f"{KINDS[kind][0]}.json").read_text("utf-8"))
    schema = copy.deepcopy(schema)
    # embedded as an AsyncAPI (draft-07 superset) schema: the keywords used are common to
    # draft-07 and 2020-12; the identity stays with the shipped file, its $defs become
    # components (a $ref in the document resolves against the document)
    schema.pop("$schema", None)
    source = schema.pop("$id", None)
    defs = schema.pop("$defs", {})
    shipped = f"ocrflow/data/schemas/{KINDS[kind][0]}.json"
    schema["description"] = f"Generated from {source} (shipped as {shipped})."
    out = {name: _rewrite_refs(schema, f"{name}_")}
    out.update({f"{name}_{k}": _rewrite_refs(v, f"{name}_") for k, v in defs.items()})
    return out


def _message(kind: str, binding: str) -> dict[str, Any]:
    ce_type, name, _, summary = KINDS[kind]
    message: dict[str, Any] = {
        "name": f"{name}",
        "title": f"{ce_type} on {binding}",
        "summary": summary,
        "contentType": CLOUDEVENTS_JSON if binding not in ("sqs", "sns") else "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "correlationId": {"$ref": "#/components/correlationIds/traceparent"},
    }
    if binding in ("sqs", "sns"):
        message["headers"] = _attributes(kind)
        message["description"] = ("Body: the CloudEvent JSON (structured mode). Message attributes "
                                  "(String) as in `headers`. FIFO queues: group id = sha256 of the "
                                  "object key, deduplication id = the CloudEvent id.")
        if binding == "sns":
            message["description"] += (" Subscriptions filter on the attributes (a filter policy "
                                       "such as {\"ocrreview\": [\"true\"]}); raw message "
                                       "delivery keeps the CloudEvent as the body.")
    elif binding == "amqp":
        message["headers"] = _attributes(kind)
        message["description"] = ("Body: the CloudEvent JSON (structured mode); `message_id` = the "
                                  "CloudEvent id, `type` = its type; application headers as in `headers`.")
        message["bindings"] = {"amqp": {"contentEncoding": "utf-8", "messageType": ce_type,
                                        "bindingVersion": "0.3.0"}}
    elif binding == "kafka":
        message["headers"] = _kafka_headers(kind)
        message["description"] = ("Value: the CloudEvent JSON (structured mode); key: the decoded "
                                  "object key (absent when there is no object).")
        message["bindings"] = {"kafka": {"key": {"type": "string",
                                                 "description": "the decoded object key"},
                                         "bindingVersion": "0.5.0"}}
    else:
        fields = _attributes(kind)
        message["headers"] = {"type": "object", "required": ["event", "type", "id"], "properties": {
            "event": {"type": "string", "description": "the CloudEvent JSON (this payload)"},
            "id": {"type": "string", "description": "the CloudEvent id"},
            **fields["properties"],
        }}
        message["description"] = ("One stream entry per event (XADD): field `event` holds the "
                                  "CloudEvent JSON; `id` and the attributes other backends carry "
                                  "as message attributes or headers repeat it.")
    return message


SERVERS: dict[str, dict[str, Any]] = {
    "sqs": {"host": "sqs.{region}.amazonaws.com", "protocol": "sqs",
            "description": "Amazon SQS (`RESULT_QUEUE_URL=https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` "
                           "or `sqs://NAME`)",
            "variables": {"region": {"default": "us-east-1"}}},
    "sns": {"host": "sns.{region}.amazonaws.com", "protocol": "sns",
            "description": "Amazon SNS (`RESULT_QUEUE_URL=arn:aws:sns:REGION:ACCOUNT:NAME`)",
            "variables": {"region": {"default": "us-east-1"}}},
    "amqp": {"host": "{host}:{port}", "protocol": "amqp", "protocolVersion": "0-9-1",
             "pathname": "/{vhost}",
             "description": "RabbitMQ, Huawei DMS for RabbitMQ "
                            "(`amqp://user:pass@host:port/vhost?queue=NAME[&exchange=EXCHANGE]`)",
             "variables": {"host": {"default": "localhost"}, "port": {"default": "5672"},
                           "vhost": {"default": "%2F"}}},
    "redis": {"host": "{host}:{port}", "protocol": "redis",
              "description": "Redis Streams, Huawei DCS (`redis://host:port/db?stream=NAME`)",
              "variables": {"host": {"default": "localhost"}, "port": {"default": "6379"}}},
    "kafka": {"host": "{bootstrap}", "protocol": "kafka",
              "description": "Apache Kafka, Huawei DMS for Kafka, Amazon MSK "
                             "(`kafka://[user:pass@]host:port[,host:port…]/TOPIC`)",
              "variables": {"bootstrap": {"default": "localhost:9092"}}},
}
NAME_PARAMETER = {"queue": "the queue name", "sns": "the topic name",
                  "amqp": "the queue name (routing key on the default exchange, or on `exchange`)",
                  "redis": "the stream name", "kafka": "the topic"}


def _channel(kind: str, binding: str) -> dict[str, Any]:
    ce_type, name, variable, _ = KINDS[kind]
    channel: dict[str, Any] = {
        "address": "{name}",
        "title": f"{kind.capitalize()}s on {binding}",
        "description": f"Where `{variable}` points: {NAME_PARAMETER.get(binding, 'the queue name')}.",
        "servers": [{"$ref": f"#/servers/{binding}"}],
        "parameters": {"name": {"description": f"the name in `{variable}`"}},
        "messages": {name: {"$ref": f"#/components/messages/{binding}{name}"}},
    }
    if binding == "amqp":
        channel["bindings"] = {"amqp": {"is": "queue", "queue": {
            "name": "{name}", "durable": True, "exclusive": False, "autoDelete": False},
            "bindingVersion": "0.3.0"}}
    return channel


def _operation(kind: str, binding: str) -> dict[str, Any]:
    name = KINDS[kind][1]
    channel = f"{binding}{kind.capitalize()}s"
    operation: dict[str, Any] = {
        "action": "send",
        "title": f"Publish {KINDS[kind][0]} on {binding}",
        "summary": "Exactly one message per uploaded object: a result or a failure.",
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
    }
    if binding == "amqp":
        operation["bindings"] = {"amqp": {"deliveryMode": 2, "mandatory": True,
                                          "bindingVersion": "0.3.0"}}
    return operation


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for binding in SERVERS:
        for kind in KINDS:
            channels[f"{binding}{kind.capitalize()}s"] = _channel(kind, binding)
            operations[f"send{binding.capitalize()}{kind.capitalize()}"] = _operation(kind, binding)
            messages[f"{binding}{KINDS[kind][1]}"] = _message(kind, binding)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ocrflow messages",
            "version": "1.0.0",
            "description": ("Bucket uploads recognised by Huawei Cloud OCR, published as CloudEvents 1.0 "
                            "(structured JSON) on the result and failure queues. Every event carries "
                            "the distributed-tracing extension `traceparent`, continuing the upload's "
                            "trace, and `data.usage`, what the upload cost; a result below "
                            "`OCR_REVIEW_BELOW` carries the extension `ocrreview` (also as a message "
                            "attribute or header, for brokers to route on). Generated by "
                            "scripts/make_asyncapi.py from the JSON Schemas in ocrflow/data/schemas; "
                            "do not edit by hand."),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "servers": SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {n: s for k in KINDS for n, s in _schemas(k).items()},
            "messages": messages,
            "correlationIds": {"traceparent": {
                "description": "the W3C trace context of the upload, continued",
                "location": "$message.payload#/traceparent"}},
        },
    }


def render() -> str:
    header = "# Generated by scripts/make_asyncapi.py from ocrflow/data/schemas; do not edit.\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text("utf-8") != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is out of date: "
                             "run python scripts/make_asyncapi.py\n")
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
