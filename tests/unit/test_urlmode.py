"""URL mode builds the sent URL from percent-encoded parts and checks the host the way the
HTTP client that fetches it parses the final string."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from urllib3.util import parse_url

from ocrflow.core.errors import FailureError
from ocrflow.provider.urlmode import build_url, template_problem
from tests.support.platform import Platform, make_platform, tear_down
from tests.support.replay_server import ReplayServer
from tests.unit.test_bucket_names import eventbridge
from tests.unit.test_pipeline import png_bytes

TEMPLATE = "https://{bucket}.obs.{region}.myhuaweicloud.com/{key}"
ALLOWED = [".obs.cn-north-4.myhuaweicloud.com"]


@pytest.mark.parametrize("bucket", [
    "evil.example\\", "evil.example:8443", "evil.example/", "a\r\nHost: x", "a\x00b", "a b",
    "user@evil.example", "a..b", "evil.example?", "evil.example#", "EVIL.example", "127.0.0.1",
    "evil.example%2f", "\u0435vil.example",
])
def test_a_hostile_bucket_never_becomes_another_host(bucket: str) -> None:
    with pytest.raises(FailureError) as err:
        build_url(TEMPLATE, bucket, "k.png", "cn-north-4", ALLOWED)
    assert err.value.failure.code == "OCRFLOW.URL_NOT_ALLOWED"


@pytest.mark.parametrize("key", ["a b.png", "q?x=1.png", "frag#x.png", "at@host.png", "100%.png",
                                 "crlf\r\nHost: evil.png", "back\\slash.png", "发票/扫描.png",
                                 "dir/../../etc/passwd"])
def test_every_key_stays_in_the_path_of_an_allowed_host(key: str) -> None:
    if ".." in key.split("/"):
        with pytest.raises(FailureError):
            build_url(TEMPLATE, "ocrflow-obs", key, "cn-north-4", ALLOWED)
        return
    url = build_url(TEMPLATE, "ocrflow-obs", key, "cn-north-4", ALLOWED)
    parsed = parse_url(url)
    assert parsed.host == "ocrflow-obs.obs.cn-north-4.myhuaweicloud.com"
    assert parsed.port is None and parsed.auth is None and parsed.query is None
    assert parsed.fragment is None
    from urllib.parse import unquote
    assert unquote(parsed.path or "") == "/" + key


@pytest.mark.parametrize("template", [
    "http://{bucket}.obs.{region}.myhuaweicloud.com/{key}",
    "https://{bucket.__class__}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://{bucket!r}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://{bucket:>10}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://{0}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://{bucket}.obs.cn-north-4.myhuaweicloud.com/{object}",
    "https://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key",
    "https://u:pw@{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}#frag",
    "https://evil.example\\@{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}",
    "https://169.254.169.254/{key}",
])
def test_bad_templates_are_refused_whatever_the_event(template: str) -> None:
    assert template_problem(template) is not None
    with pytest.raises(FailureError) as err:
        build_url(template, "ocrflow-obs", "k.png", "cn-north-4", ALLOWED + ["169.254.169.254"])
    assert err.value.failure.code == "OCRFLOW.URL_NOT_ALLOWED"


def test_a_port_only_when_the_allow_list_names_it() -> None:
    template = "https://{bucket}.obs.{region}.myhuaweicloud.com:8443/{key}"
    with pytest.raises(FailureError):
        build_url(template, "ocrflow-obs", "k.png", "cn-north-4", ALLOWED)
    url = build_url(template, "ocrflow-obs", "k.png", "cn-north-4",
                    [".obs.cn-north-4.myhuaweicloud.com:8443"])
    assert parse_url(url).port == 8443


def test_suffix_and_exact_matches_on_the_parsed_host() -> None:
    exact = ["ocrflow-obs.obs.cn-north-4.myhuaweicloud.com"]
    assert build_url(TEMPLATE, "ocrflow-obs", "k", "cn-north-4", exact)
    for bucket in ("other", "xocrflow-obs"):
        with pytest.raises(FailureError):
            build_url(TEMPLATE, bucket, "k", "cn-north-4", exact)
    with pytest.raises(FailureError):  # a suffix is not the bare domain, nor its look-alike
        build_url("https://{bucket}myhuaweicloud.com/{key}", "evil", "k", "cn-north-4",
                  [".myhuaweicloud.com"])


@pytest.fixture
def platform(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = make_platform(tmp_path, monkeypatch, replay.url + "/{region}",
                      OCR_URL_ALLOWED_HOSTS=json.dumps(ALLOWED),
                      OCR_ROUTES=json.dumps([{"api": "general-text", "input": "url",
                                              "url_template": TEMPLATE}]))
    yield p
    tear_down()


def test_url_mode_through_the_handler(platform: Platform, replay: ReplayServer) -> None:
    platform.put("ocrflow-obs", "scans/a?b#c.png", png_bytes())
    answer = platform.invoke(eventbridge("ocrflow-obs", "scans/a?b#c.png"))
    assert answer["counts"]["results"] == 1
    assert json.loads(replay.received[0].body) == {
        "url": "https://ocrflow-obs.obs.cn-north-4.myhuaweicloud.com/scans/a%3Fb%23c.png"}
    platform.put("evil.example:8443", "k.png", png_bytes())
    answer = platform.invoke(eventbridge("evil.example:8443", "k.png"))
    assert answer["counts"]["failures"] == 1 and answer["counts"]["unpublished"] == 0
    assert [m["data"]["error"]["code"] for m in platform.failures()] == ["OCRFLOW.URL_NOT_ALLOWED"]
    assert len(replay.received) == 1
