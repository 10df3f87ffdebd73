"""One message per record: results, coded failures, refusals before paying, idempotency,
a queue that is down, claim checks."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ocrflow.adapters.queues import Queue
from ocrflow.core.errors import ConfigError, PublishError
from ocrflow.core.models import OutgoingMessage
from ocrflow.handler import RecordsNotPublished
from tests.conftest import load_event
from tests.support.harness import Harness, make_harness
from tests.support.replay_server import Answer, ReplayServer


def png_bytes(w: int = 120, h: int = 60) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def h(tmp_path: Path, replay: ReplayServer) -> Iterator[Harness]:
    harness = make_harness(tmp_path, replay.url + "/{region}")
    yield harness
    harness.close()


def s3_event(*keys: str, bucket: str = "ocrflow-uploads") -> dict[str, Any]:
    template = load_event("s3_put.json")["Records"][0]
    records = []
    for k in keys:
        r = copy.deepcopy(template)
        r["s3"]["bucket"]["name"] = bucket
        r["s3"]["object"] = {"key": k.replace(" ", "+"), "size": None}
        records.append(r)
    return {"Records": records}


def test_multi_record_event_gives_one_message_per_record(h: Harness, replay: ReplayServer,
                                                         validate_message: Any) -> None:
    for key in ("a.png", "b c.png", "发票/d.png"):
        h.put("ocrflow-uploads", key, png_bytes())
    h.put("ocrflow-uploads", "bad.png", b"not an image")
    answer = h.invoke(s3_event("a.png", "b c.png", "%E5%8F%91%E7%A5%A8/d.png", "bad.png"))
    assert answer["counts"] == {"records": 4, "results": 3, "failures": 1, "duplicates": 0,
                                "ignored": 0, "unpublished": 0}
    results = [validate_message(m) for m in h.results()]
    failures = [validate_message(m) for m in h.failures()]
    assert sorted(m["subject"] for m in results) == ["a.png", "b c.png", "发票/d.png"]
    assert [m["data"]["error"]["code"] for m in failures] == ["OCRFLOW.UNSUPPORTED_FORMAT"]
    assert len(replay.received) == 3  # nothing paid for the file refused locally
    msg = results[0]
    assert msg["source"] == "ocrflow/recognize" and msg["data"]["api"] == "general-text"
    assert msg["data"]["ocr_region"] == "cn-north-4" and msg["data"]["attempts"] == 1
    assert msg["data"]["request_id"].startswith("req-")
    assert msg["data"]["result"]["words_block_list"][0]["words"] == "hello"
    assert msg["data"]["object"]["etag"]  # the content's identity is carried


def test_every_sample_event_shape_runs_through_the_handler(tmp_path: Path, replay: ReplayServer,
                                                          validate_message: Any) -> None:
    from ocrflow.contract.events import parse_event
    for name in ["s3_put.json", "s3_multi_record.json", "eventbridge_object_created.json",
                 "sns_s3.json", "sqs_sns_s3.json", "obs_s3_compatible.json", "obs_native_v3.json",
                 "eventgrid_obs.json"]:
        h = make_harness(tmp_path / name, replay.url + "/{region}")
        event = load_event(name)
        refs = parse_event(event)
        for ref in refs:  # the uploads the events speak of, with no ETag/version to pin
            h.put(ref.bucket, ref.key, png_bytes())  # type: ignore[union-attr]
        stripped = _without_identity(event)
        answer = h.invoke(stripped)
        published = h.results()
        assert len(published) == len(refs), name
        assert {m["subject"] for m in published} == {r.key for r in refs}  # type: ignore[union-attr]
        for m in published:
            validate_message(m)
        if "batchItemFailures" in answer:
            assert answer == {"batchItemFailures": []}
        h.close()


def _without_identity(event: Any) -> Any:
    """Sample events name ETags/versions of objects that are not in the test bucket: drop
    them, also inside JSON carried as text (SQS bodies, SNS messages)."""
    import json
    if isinstance(event, dict):
        return {k: _without_identity(v) for k, v in event.items()
                if k not in ("eTag", "etag", "versionId", "version-id", "size")}
    if isinstance(event, list):
        return [_without_identity(v) for v in event]
    if isinstance(event, str) and event.startswith("{"):
        try:
            return json.dumps(_without_identity(json.loads(event)))
        except ValueError:
            return event
    return event


def test_s3_test_event_succeeds_with_nothing_published(h: Harness, replay: ReplayServer) -> None:
    answer = h.invoke(load_event("s3_test_event.json"))
    assert answer["counts"]["records"] == 0
    assert h.results() == [] and h.failures() == [] and replay.received == []


def test_route_to_a_region_without_the_api_stops_the_start(tmp_path: Path, replay: ReplayServer) -> None:
    with pytest.raises(ConfigError) as err:
        make_harness(tmp_path, replay.url + "/{region}", OCR_REGION="cn-east-3",
                     OCR_ROUTES='[{"prefix": "passports/", "api": "passport"}]')
    text = str(err.value)
    assert text.startswith("OCR_API_REGIONS: ")
    assert "passport" in text and "cn-east-3" in text
    assert "cn-north-4, ap-southeast-1, ap-southeast-2" in text  # where it is offered
    assert "OCR_CATALOGUE_CHECK=warn" in text
    assert replay.received == []


def test_with_catalogue_check_warn_the_call_is_made_and_the_provider_code_arrives(
        tmp_path: Path, replay: ReplayServer, validate_message: Any) -> None:
    replay.script(Answer(404, {"error_code": "APIG.0101", "error_msg": "The API does not exist"}))
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_REGION="cn-east-3",
                     OCR_CATALOGUE_CHECK="warn",
                     OCR_ROUTES='[{"prefix": "passports/", "api": "passport"}]')
    h.put("ocrflow-uploads", "passports/p.png", png_bytes())
    h.invoke(s3_event("passports/p.png"))
    [failure] = [validate_message(m) for m in h.failures()]
    err = failure["data"]["error"]
    assert (err["code"], err["source"], err["http_status"]) == ("APIG.0101", "provider", 404)
    assert err["message"].startswith("The API does not exist")
    assert "cn-east-3" in err["message"] and "offered in cn-north-4" in err["message"]
    assert [r.path.rsplit("/", 1)[1] for r in replay.received] == ["passport"]
    h.close()


def test_a_withdrawn_api_is_refused_without_a_call(tmp_path: Path, replay: ReplayServer,
                                                   validate_message: Any) -> None:
    with pytest.raises(ConfigError, match="OCR_ROUTES: custom-template was withdrawn"):
        make_harness(tmp_path, replay.url + "/{region}",
                     OCR_ROUTES='[{"prefix": "forms/", "api": "custom-template"}]')
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_CATALOGUE_CHECK="warn",
                     OCR_ROUTES='[{"prefix": "forms/", "api": "custom-template"}]')
    h.put("ocrflow-uploads", "forms/f.png", png_bytes())
    h.invoke(s3_event("forms/f.png"))
    [failure] = [validate_message(m) for m in h.failures()]
    assert failure["data"]["error"]["code"] == "OCRFLOW.API_WITHDRAWN"
    assert "2025-12-31" in failure["data"]["error"]["message"]
    assert replay.received == []
    h.close()


def test_api_is_called_in_its_package_region(tmp_path: Path, replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_REGION="cn-east-3",
                     OCR_API_REGIONS='{"auto-classification": "cn-north-4"}',
                     OCR_ROUTES='[{"prefix": "mixed/", "api": "auto-classification"}]')
    h.put("ocrflow-uploads", "mixed/m.png", png_bytes())
    h.put("ocrflow-uploads", "plain.png", png_bytes())
    h.invoke(s3_event("mixed/m.png", "plain.png"))
    paths = sorted(r.path for r in replay.received)
    assert paths == ["/cn-east-3/v2/0123456789abcdef0123456789abcdef/ocr/general-text",
                     "/cn-north-4/v2/0123456789abcdef0123456789abcdef/ocr/auto-classification"]
    h.close()


def test_provider_4204_is_a_published_non_retryable_failure(h: Harness, replay: ReplayServer,
                                                           validate_message: Any) -> None:
    replay.script(Answer(403, {"error_code": "ModelArts.4204", "error_msg": "service not enabled"}))
    h.put("ocrflow-uploads", "x.png", png_bytes())
    h.invoke(s3_event("x.png"))
    [failure] = [validate_message(m) for m in h.failures()]
    err = failure["data"]["error"]
    assert {k: err[k] for k in ("code", "http_status", "source", "retryable")} == {
        "code": "ModelArts.4204", "http_status": 403, "source": "provider", "retryable": False}
    # the provider's words, then which region was called and where the API is offered
    assert err["message"].startswith("service not enabled (general-text is not enabled for this "
                                     "account in cn-north-4, the region called; general-text is "
                                     "offered in cn-north-4, cn-east-3, ap-southeast-1.")
    assert len(replay.received) == 1


def test_redelivered_event_calls_and_publishes_nothing_new(h: Harness, replay: ReplayServer) -> None:
    h.put("ocrflow-uploads", "once.png", png_bytes())
    event = s3_event("once.png")
    for _ in range(3):
        h.invoke(event)
    assert len(replay.received) == 1
    assert len(h.results()) == 1


def test_a_new_version_of_the_object_is_recognized_again(h: Harness, replay: ReplayServer) -> None:
    h.put("ocrflow-uploads", "v.png", png_bytes(100, 50))
    h.invoke(s3_event("v.png"))
    h.put("ocrflow-uploads", "v.png", png_bytes(100, 60))
    h.invoke(s3_event("v.png"))
    assert len(replay.received) == 2 and len(h.results()) == 2


def test_missing_object_is_a_coded_failure_not_a_crash(h: Harness, replay: ReplayServer) -> None:
    event = s3_event("gone.png")
    event["Records"][0]["s3"]["object"]["eTag"] = "0" * 32
    h.invoke(event)
    [failure] = h.failures()
    assert failure["data"]["error"]["code"] == "OCRFLOW.OBJECT_NOT_FOUND"
    assert replay.received == []


def test_changed_object_fails_without_a_call(h: Harness, replay: ReplayServer) -> None:
    h.put("ocrflow-uploads", "c.png", png_bytes())
    event = s3_event("c.png")
    event["Records"][0]["s3"]["object"]["eTag"] = "f" * 32
    h.invoke(event)
    assert [m["data"]["error"]["code"] for m in h.failures()] == ["OCRFLOW.OBJECT_CHANGED"]
    assert replay.received == []


class FlakyQueue(Queue):
    """A queue that refuses publishes while ``down`` (a stand-in for the broker tests of the
    reliability suite; here it isolates the pipeline's bookkeeping)."""

    def __init__(self, inner: Queue) -> None:
        self.inner, self.down = inner, True

    def publish(self, message: OutgoingMessage) -> None:
        if self.down:
            raise PublishError("broker unreachable")
        self.inner.publish(message)

    def dump(self) -> Iterator[dict[str, Any]]:
        return self.inner.dump()


def test_queue_down_fails_the_record_then_publishes_once_without_a_second_call(
        h: Harness, replay: ReplayServer) -> None:
    flaky = FlakyQueue(h.rt.queue("result"))
    h.rt._queues["result"] = flaky
    h.put("ocrflow-uploads", "q.png", png_bytes())
    event = s3_event("q.png")
    with pytest.raises(RecordsNotPublished):
        h.invoke(event)
    with pytest.raises(RecordsNotPublished):
        h.invoke(event)
    assert list(flaky.dump()) == []
    flaky.down = False
    h.invoke(event)
    h.invoke(event)
    assert len(list(flaky.dump())) == 1
    assert len(replay.received) == 1


def test_sqs_batch_reports_only_unpublished_messages(h: Harness, replay: ReplayServer) -> None:
    event = load_event("sqs_batch_s3.json")
    h.put("ocrflow-uploads", "batch/one.png", png_bytes())
    h.put("ocrflow-uploads", "batch/two words.png", b"text")  # a coded failure, published
    for r in event["Records"][:2]:
        r["body"] = r["body"].replace('"eTag"', '"x"')
    answer = h.invoke(event)
    assert answer == {"batchItemFailures": []}
    assert len(h.results()) == 1 and len(h.failures()) == 1

    flaky = FlakyQueue(h.rt.queue("result"))
    h.rt._queues["result"] = flaky
    h.put("ocrflow-uploads", "batch/one.png", png_bytes(130, 70))  # new content → new record
    answer = h.invoke(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_unparseable_event_gives_one_event_invalid_failure(h: Harness, validate_message: Any) -> None:
    answer = h.invoke("{this is not json")
    assert answer["counts"]["failures"] == 1
    [failure] = [validate_message(m) for m in h.failures()]
    assert failure["data"]["error"]["code"] == "OCRFLOW.EVENT_INVALID"
    assert failure["data"]["event_excerpt"] == "{this is not json"
    assert failure["data"]["object"] is None


def test_budget_guard_stops_calls(tmp_path: Path, replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_MAX_CALLS_PER_DAY="2")
    for i in range(4):
        h.put("ocrflow-uploads", f"b{i}.png", png_bytes(100 + i, 50))
    h.invoke(s3_event(*[f"b{i}.png" for i in range(4)]))
    assert len(replay.received) == 2
    codes = [m["data"]["error"]["code"] for m in h.failures()]
    assert codes == ["OCRFLOW.BUDGET_EXCEEDED"] * 2
    assert all(m["data"]["error"]["retryable"] for m in h.failures())
    h.close()


def test_claim_check_for_results_too_large_for_the_queue(h: Harness, replay: ReplayServer,
                                                        validate_message: Any) -> None:
    big = {"result": {"words_block_list": [{"words": "x" * 5000}] * 100}}
    replay.script(Answer(200, big))
    h.rt.message_limits["result"] = 64 * 1024
    h.put("ocrflow-uploads", "big.png", png_bytes())
    h.invoke(s3_event("big.png"))
    [msg] = [validate_message(m) for m in h.results()]
    ref = msg["data"]["result_ref"]
    assert "result" not in msg["data"]
    stored = Path(ref["url"].removeprefix("file://")).read_bytes()
    import hashlib
    import json
    assert json.loads(stored) == big["result"] and hashlib.sha256(stored).hexdigest() == ref["sha256"]


def test_a_claim_from_a_crashed_attempt_is_taken_over_after_its_expiry(
        tmp_path: Path, replay: ReplayServer) -> None:
    import time

    from ocrflow.core.models import ObjectRef
    from ocrflow.flow.keys import record_key
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_DEADLINE_S="2")
    data = png_bytes()
    h.put("ocrflow-uploads", "crash.png", data)
    import hashlib
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    key = record_key(ObjectRef("ocrflow-uploads", "crash.png", None, etag), "general-text", "cn-north-4")
    # an attempt that claimed the record and died before it called or published anything
    h.rt.idempotency.claim(key, 0.2)
    event = s3_event("crash.png")
    event["Records"][0]["s3"]["object"]["eTag"] = etag
    with pytest.raises(RecordsNotPublished):
        h.invoke(event)  # still held: redelivered later, nothing called
    assert replay.received == []
    time.sleep(0.3)
    h.invoke(event)
    assert len(replay.received) == 1 and len(h.results()) == 1
    h.close()


def test_a_record_that_keeps_failing_unexpectedly_ends_in_an_internal_error_failure(
        h: Harness, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch,
        validate_message: Any) -> None:
    """An error no check turns into a coded failure (a bug, a decoder surprise): the record
    is redelivered, and the OCR_MAX_DELIVERIES-th delivery (3 here) publishes the failure
    instead of leaving it to loop until a dead-letter queue."""
    from ocrflow import documents

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decoder surprise")

    monkeypatch.setattr(documents, "prepare", broken)
    h.put("ocrflow-uploads", "poison.png", png_bytes())
    event = s3_event("poison.png")
    for _ in range(2):
        with pytest.raises(RecordsNotPublished):
            h.invoke(event)
        assert h.failures() == []
    third = h.invoke(event)
    assert third["counts"]["failures"] == 1
    [failure] = [validate_message(m) for m in h.failures()]
    assert failure["data"]["error"]["code"] == "OCRFLOW.INTERNAL_ERROR"
    assert "RuntimeError" in failure["data"]["error"]["message"]
    assert "decoder surprise" not in failure["data"]["error"]["message"]
    assert h.invoke(event)["counts"]["duplicates"] == 1
    assert len(h.failures()) == 1 and replay.received == []
