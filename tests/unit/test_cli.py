"""The command line: invoke, run and queue dump, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes


def ocrflow(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), **env}
    return subprocess.run([sys.executable, "-m", "ocrflow.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60)


def base_env(tmp_path: Path, replay: ReplayServer) -> dict[str, str]:
    return {"OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(), "OCR_ENDPOINT": replay.url,
            "OCR_PROJECT_ID": "proj", "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK"}


def test_invoke_publishes_a_cloudevent_that_queue_dump_shows(tmp_path: Path, replay: ReplayServer,
                                                              validate_message: Any) -> None:
    bucket = tmp_path / "buckets" / "ocrflow-uploads" / "invoices" / "2026"
    bucket.mkdir(parents=True)
    (bucket / "scan 01.png").write_bytes(png_bytes())
    event = json.loads((ROOT / "tests/events/s3_put.json").read_text())
    obj = event["Records"][0]["s3"]["object"]
    obj.pop("versionId"), obj.pop("eTag")
    obj["size"] = (bucket / "scan 01.png").stat().st_size
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = base_env(tmp_path, replay)
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["counts"]["results"] == 1
    assert summary["outcomes"][0]["key"] == "invoices/2026/scan 01.png"
    url = "sqlite:///.ocrflow/queues.db?queue=results"
    dump = ocrflow("queue", "dump", url, cwd=tmp_path, env=env)
    assert dump.returncode == 0, dump.stderr
    [message] = [json.loads(line) for line in dump.stdout.splitlines()]
    validate_message(message)
    assert message["subject"] == "invoices/2026/scan 01.png"
    assert message["id"] == summary["outcomes"][0]["message_id"]
    # logs and metrics go to stderr as JSON lines; stdout stays the summary
    kinds = [json.loads(line) for line in run.stderr.splitlines()]
    assert any("_aws" in k for k in kinds) and any(k.get("message") == "invocation started" for k in kinds)


def test_run_processes_a_folder_and_prints_a_table(tmp_path: Path, replay: ReplayServer) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.png").write_bytes(png_bytes())
    (docs / "sub" / "b.png").write_bytes(png_bytes(90, 40))
    (docs / "notes.txt").write_text("hello")
    env = base_env(tmp_path, replay)
    run = ocrflow("run", "docs", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "a.png" in out and "sub/b.png" in out and "hello" in out
    assert "failure OCRFLOW.UNSUPPORTED_FORMAT" in out
    assert "3 files" in out and "2 results, 1 failures" in out
    assert "OCR calls general-text @ cn-north-4: 2 total, 2 success, 0 failed, 2 billed" in out
    assert "ocrflow queue dump" in out


def test_the_run_table_stays_in_line_with_chinese_names(tmp_path: Path, replay: ReplayServer) -> None:
    """A Chinese character takes two terminal columns: the columns after a Chinese file name
    start where they start on the other rows."""
    import unicodedata

    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "发票扫描件.png").write_bytes(png_bytes())
    (docs / "a.png").write_bytes(png_bytes())
    run = ocrflow("run", "docs", cwd=tmp_path, env=base_env(tmp_path, replay))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    header = next(line for line in lines if line.startswith("file "))
    rows = [line for line in lines if line.startswith(("发票扫描件.png", "a.png"))]
    assert len(rows) == 2
    where = columns(header[:header.index("api")])
    for row in rows:
        name = row.split("  ")[0]
        assert columns(row[:row.index("general-text")]) == where, (name, lines)


def test_bad_configuration_names_the_variable(tmp_path: Path) -> None:
    run = ocrflow("run", ".", cwd=tmp_path, env={"OCR_MAX_CONCURRENCY": "lots"})
    assert run.returncode == 2
    assert "OCR_MAX_CONCURRENCY" in run.stderr and "Traceback" not in run.stderr


def test_invoke_exits_non_zero_when_a_record_is_not_published(tmp_path: Path,
                                                               replay: ReplayServer) -> None:
    bucket = tmp_path / "buckets" / "b"
    bucket.mkdir(parents=True)
    (bucket / "x.png").write_bytes(png_bytes())
    (tmp_path / "event.json").write_text(json.dumps(
        {"Records": [{"eventName": "ObjectCreated:Put",
                      "s3": {"bucket": {"name": "b"}, "object": {"key": "x.png"}}}]}))
    env = {**base_env(tmp_path, replay), "RESULT_QUEUE_URL": "sqlite:////proc/forbidden/q.db?queue=r"}
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode != 0
    assert "Traceback" not in run.stdout


def test_invoke_answers_an_s3_batch_operations_job_and_exits_non_zero_for_a_task_to_retry(
        tmp_path: Path, replay: ReplayServer) -> None:
    bucket = tmp_path / "buckets" / "amzn-s3-demo-bucket" / "scans"
    bucket.mkdir(parents=True)
    (bucket / "receipt march 01.png").write_bytes(png_bytes())
    (tmp_path / "job.json").write_text((ROOT / "tests/events/s3_batch_operations_v2.json").read_text())
    env = base_env(tmp_path, replay)
    run = ocrflow("invoke", "job.json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    [task] = json.loads(run.stdout)["results"]
    assert task["resultCode"] == "Succeeded" and task["resultString"].startswith("result message ")
    down = {**env, "RESULT_QUEUE_URL": "sqlite:////proc/forbidden/q.db?queue=r",
            "IDEMPOTENCY_STORE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    run = ocrflow("invoke", "job.json", cwd=tmp_path, env=down)
    assert run.returncode == 1
    assert json.loads(run.stdout)["results"][0]["resultCode"] == "TemporaryFailure"


def sqs_batch(tmp_path: Path, keys: list[str]) -> dict[str, Any]:
    event = json.loads((ROOT / "tests/events/sqs_batch_s3.json").read_text())
    records = []
    for i, key in enumerate(keys):
        record = dict(event["Records"][0], messageId=f"m-{i}")
        body = json.loads(record["body"])
        body["Records"][0]["s3"]["object"] = {"key": key}
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}


def test_invoke_prints_the_batch_answer_the_handler_returned(tmp_path: Path,
                                                             replay: ReplayServer) -> None:
    """An SQS batch is answered with batchItemFailures, as on Lambda: the command prints that
    answer as it is, and exits 1 when it lists a message (a record not published)."""
    bucket = tmp_path / "buckets" / "ocrflow-uploads"
    bucket.mkdir(parents=True)
    (bucket / "a.png").write_bytes(png_bytes())
    (tmp_path / "event.json").write_text(json.dumps(sqs_batch(tmp_path, ["a.png", "gone.png"])))
    env = base_env(tmp_path, replay)
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"batchItemFailures": []}  # a failure is published too
    (tmp_path / "event.json").write_text(json.dumps(sqs_batch(tmp_path, ["a.png", "b.png"])))
    (bucket / "b.png").write_bytes(png_bytes(90, 40))
    down = {**env, "RESULT_QUEUE_URL": "sqlite:////proc/forbidden/q.db?queue=r"}
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=down)
    assert run.returncode == 1, run.stderr
    # a.png's result is already published (a duplicate); b.png's cannot be
    assert json.loads(run.stdout) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_run_prints_billed_units_and_the_estimated_cost_and_dump_shows_usage(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    from tests.support.replay_server import Answer

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (docs / name).write_bytes(png_bytes())
    unsure = {"result": {"words_block_list": [{"words": "maybe", "confidence": 0.42}]}}
    replay.script(Answer(200, unsure), Answer(500, {"error_code": "ModelArts.4203", "error_msg": "busy"}))
    env = {**base_env(tmp_path, replay), "OCR_PRICE_PER_UNIT": json.dumps({"general-text": 0.0035}),
           "OCR_REVIEW_BELOW": "0.5", "OCR_MAX_CONCURRENCY": "1"}
    run = ocrflow("run", "docs", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert ("OCR calls general-text @ cn-north-4: 4 total, 3 success, 1 failed, 3 billed units, "
            "estimated cost 0.0105") in run.stdout
    assert "Estimated cost: 0.0105 at the prices of OCR_PRICE_PER_UNIT\n" in run.stdout
    dump = ocrflow("queue", "dump", "sqlite:///.ocrflow/queues.db?queue=results", cwd=tmp_path, env=env)
    messages = {m["subject"]: validate_message(m) for m in map(json.loads, dump.stdout.splitlines())}
    assert sum(m["data"]["usage"]["calls"] for m in messages.values()) == 4
    assert sum(m["data"]["usage"]["billed_units"] for m in messages.values()) == 3
    assert messages["a.png"]["ocrreview"] is True
    assert messages["a.png"]["data"]["confidence"] == {"min": 0.42, "mean": 0.42, "count": 1}
