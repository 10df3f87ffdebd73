"""The local emulator answers like the real service: signing, regions and packages, input
codes, faults with a seed, counting, recorded answers — all over real sockets."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from PIL import Image

from ocrflow.core.signer import Credentials, sign
from ocrflow.emulator.server import RunningEmulator, start_emulator

CREDS = Credentials("EMUAK", "EMUSK")
PROJECT = "proj"


def png(w: int = 120, h: int = 60) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


def call(emu: RunningEmulator, api: str = "general-text", body: Any = None, region: str | None = "cn-north-4",
         creds: Credentials | None = CREDS, raw: bytes | None = None, now: datetime | None = None,
         headers: dict[str, str] | None = None) -> requests.Response:
    prefix = f"/{region}" if region else ""
    url = f"{emu.url}{prefix}/v2/{PROJECT}/ocr/{api}"
    data = raw if raw is not None else json.dumps(
        body if body is not None else {"image": base64.b64encode(png()).decode()}).encode()
    h = {"Content-Type": "application/json;charset=utf8", **(headers or {})}
    if creds is not None:
        h = sign("POST", url, h, data, creds, now=now)
    return requests.post(url, data=data, headers=h, timeout=30)


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with start_emulator(recognition=False, credentials={"EMUAK": "EMUSK"},
                        packages={"general-text": "cn-north-4", "passport": "cn-north-4",
                                  "id-card": "cn-north-4", "auto-classification": "cn-north-4"}) as e:
        yield e


def code(r: requests.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error_code"]


def test_success_has_the_documented_shape_and_a_request_id(emu: RunningEmulator) -> None:
    r = call(emu)
    assert r.status_code == 200 and r.headers["X-Request-Id"]
    assert r.json() == {"result": {"direction": -1.0, "words_block_count": 0, "words_block_list": []}}
    assert r.headers["X-Emulator-Recognition"] == "off"


def test_bad_signature_is_refused_with_the_gateway_code(emu: RunningEmulator) -> None:
    assert code(call(emu, creds=Credentials("EMUAK", "wrong"))) == (401, "APIG.0301")
    assert code(call(emu, creds=Credentials("OTHER", "EMUSK"))) == (401, "APIG.0301")
    assert code(call(emu, creds=None)) == (401, "APIG.0301")
    r = call(emu, creds=None, headers={"X-Auth-Token": "an-iam-token"})
    assert r.status_code == 200  # IAM tokens are accepted as they are


def test_more_than_fifteen_minutes_of_skew_is_refused(emu: RunningEmulator) -> None:
    late = datetime.now(timezone.utc) - timedelta(minutes=16)
    r = call(emu, now=late)
    assert code(r) == (401, "APIG.0301") and "x-sdk-date" in r.json()["error_msg"]
    assert call(emu, now=datetime.now(timezone.utc) - timedelta(minutes=14)).status_code == 200


def test_package_region_and_offer(emu: RunningEmulator) -> None:
    assert call(emu, region="cn-north-4").status_code == 200
    r = call(emu, region="cn-east-3")  # general-text is offered there, but not bought there
    assert code(r) == (403, "ModelArts.4204") and "cn-east-3" in r.json()["error_msg"]
    assert code(call(emu, api="passport", region="cn-east-3")) == (404, "APIG.0101")  # not offered
    assert code(call(emu, api="no-such-api")) == (404, "APIG.0101")
    assert call(emu, region=None).status_code == 200  # no prefix: the emulator's own region


def test_default_packages_are_every_api_everywhere_it_is_offered() -> None:
    with start_emulator(recognition=False) as e:
        assert call(e, region="cn-east-3", creds=Credentials("any", "key")).status_code == 200


@pytest.mark.parametrize("body, expected", [
    ({}, "AIS.0101"),
    ({"image": base64.b64encode(png()).decode(), "url": "https://x/y.png"}, "AIS.0101"),
    ({"image": "%%%not base64%%%"}, "AIS.0102"),
    ({"image": base64.b64encode(b"plain text, not an image").decode()}, "AIS.0102"),
    ({"image": base64.b64encode(png(5, 5)).decode()}, "AIS.0103"),
    ({"image": "A" * (10 * 1024 * 1024 + 4)}, "AIS.0103"),
])
def test_input_validation_codes(emu: RunningEmulator, body: dict[str, Any], expected: str) -> None:
    assert code(call(emu, body=body)) == (400, expected)


def test_body_over_the_gateway_limit(emu: RunningEmulator) -> None:
    r = call(emu, raw=b"{" + b" " * (12 * 1024 * 1024 + 10) + b"}")
    assert code(r) == (413, "APIG.0201")


def test_apis_that_take_data_instead_of_image() -> None:
    with start_emulator(recognition=False) as e:
        r = call(e, api="seal", body={"image": base64.b64encode(png()).decode()}, creds=Credentials("a", "b"))
        assert code(r) == (400, "AIS.0101")
        r = call(e, api="seal", body={"data": base64.b64encode(png()).decode()}, creds=Credentials("a", "b"))
        # a recorded answer, marked as such: no invented seal result passed off as recognition
        assert r.status_code == 200 and r.headers["X-Emulator-Recorded"] == "true"


def test_recorded_answers_are_marked(emu: RunningEmulator) -> None:
    r = call(emu, api="id-card")
    assert r.status_code == 200 and r.headers["X-Emulator-Recorded"] == "true"
    assert set(r.json()["result"]) >= {"name", "number", "address"}


def test_faults_follow_the_seed_exactly() -> None:
    def run() -> tuple[list[str | None], list[int]]:
        with start_emulator(recognition=False, fault_rate=0.5, faults=["429", "500", "504", "4401"],
                            seed=42) as e:
            statuses = [call(e, creds=Credentials("a", "b")).status_code for _ in range(30)]
            return e.fault_log, statuses
    log1, statuses1 = run()
    log2, statuses2 = run()
    assert log1 == log2 and statuses1 == statuses2
    expected = {None: 200, "429": 429, "4401": 429, "500": 500, "504": 504}
    assert statuses1 == [expected[f] for f in log1]
    faulted = sum(f is not None for f in log1)
    assert 5 <= faulted <= 25  # about half of 30


def test_fault_codes_and_dropped_connections() -> None:
    with start_emulator(recognition=False, fault_rate=1.0, faults=["429"], seed=1) as e:
        assert code(call(e, creds=Credentials("a", "b"))) == (429, "APIG.0308")
    with start_emulator(recognition=False, fault_rate=1.0, faults=["4401"], seed=1) as e:
        assert code(call(e, creds=Credentials("a", "b")))[1] == "ModelArts.4401"
    with start_emulator(recognition=False, fault_rate=1.0, faults=["reset"], seed=1) as e:
        with pytest.raises(requests.ConnectionError):
            call(e, creds=Credentials("a", "b"))
        assert e.stats()["failed"] == 1


def test_slow_answers_arrive_after_the_delay_and_are_billed() -> None:
    with start_emulator(recognition=False, fault_rate=1.0, faults=["slow"], slow_ms=600, seed=1) as e:
        url = f"{e.url}/v2/p/ocr/general-text"
        body = json.dumps({"image": base64.b64encode(png()).decode()}).encode()
        with pytest.raises(requests.ReadTimeout):
            requests.post(url, data=body, headers=sign("POST", url, {}, body, Credentials("a", "b")),
                          timeout=(2, 0.2))
        import time
        time.sleep(0.8)
        assert e.stats()["billed"] == 1  # the service bills what it answered


def test_stats_count_per_api_and_region(emu: RunningEmulator) -> None:
    call(emu)
    call(emu)
    call(emu, region="cn-east-3")  # 4204
    call(emu, api="id-card")
    s = emu.stats()
    assert (s["total"], s["success"], s["failed"], s["billed"]) == (4, 3, 1, 3)
    assert s["by_api"]["general-text"]["cn-north-4"] == {"total": 2, "success": 2, "failed": 0, "billed": 2}
    assert s["by_api"]["general-text"]["cn-east-3"]["failed"] == 1
    r = requests.get(emu.url + "/_emulator/stats", timeout=5)
    assert r.json()["total"] == 4
    requests.post(emu.url + "/_emulator/reset", timeout=5)
    assert emu.stats()["total"] == 0


def test_the_request_ids_of_billed_answers_are_kept_when_asked(emu: RunningEmulator) -> None:
    call(emu)
    assert emu.billed_request_ids() == []  # not kept by default: the list would only grow
    with start_emulator(recognition=False, credentials={"EMUAK": "EMUSK"}, keep_billed_ids=True,
                        packages={"general-text": "cn-north-4"}) as e:
        answered = [call(e), call(e, region="cn-east-3"), call(e)]  # the second: 4204
        assert [r.status_code for r in answered] == [200, 403, 200]
        assert e.billed_request_ids() == [answered[0].headers["X-Request-Id"],
                                          answered[2].headers["X-Request-Id"]]


def test_the_official_sdk_style_request_without_region_prefix_works(emu: RunningEmulator) -> None:
    assert call(emu, region=None).status_code == 200
