"""Backfill lists a bucket and sends one S3-shaped notification per object to SQS; the
notifications decode back to the same keys, and replaying a backfill pays nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3

from ocrflow.contract.events import parse_event
from ocrflow.core.models import ObjectRef
from tests.conftest import ROOT
from tests.integration.test_aws_adapters import png
from tests.support.harness import make_harness
from tests.support.replay_server import ReplayServer

KEYS = ["a b.png", "a+b.png", "发票/增值税 发票.png", "deep/nested/x%y.png", "plain.png"]


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_backfill_command_sends_one_notification_per_object(moto_endpoint: str, tmp_path: Path,
                                                           replay: ReplayServer) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"b-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"scans/{i:03d}.png" for i in range(245)] + [f"scans/{k}" for k in KEYS]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=png())
    s3.put_object(Bucket=bucket, Key="elsewhere/skip.png", Body=png())
    intake = sqs.create_queue(QueueName=f"intake-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared")}
    run = subprocess.run([sys.executable, "-m", "ocrflow.cli", "backfill", f"s3://{bucket}/scans/",
                          "--queue", intake], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"listed": 250, "sent": 250, "failed": 0}
    assert "listed 250" in run.stderr  # progress
    messages = receive_all(sqs, intake)
    refs = [r for m in messages for r in parse_event({"Records": [
        {"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}]})]
    assert all(isinstance(r, ObjectRef) for r in refs)
    assert sorted(r.key for r in refs) == sorted(keys)  # type: ignore[union-attr]

    # the deployed function would take these; a second backfill is free thanks to idempotency
    h = make_harness(tmp_path, replay.url + "/{region}", OBJECT_STORE_URL="s3://")
    sample = [m for m in messages if any(k in m["Body"] for k in ("000.png", "001.png", "a+b.png"))]
    batch = {"Records": [{"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}
                         for m in sample]}
    assert h.invoke(batch) == {"batchItemFailures": []}
    calls = len(replay.received)
    assert h.invoke(batch) == {"batchItemFailures": []}
    assert len(replay.received) == calls == len(sample)
    h.close()
