"""Every (region, API) pair of the official endpoint tables, called through ``ocrflow
invoke`` as a user runs it, sends what the official client sends for the same file: the
same method, path and body. One test per region, against a recording server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkocr.v1 import OcrClient

from ocrflow.provider import catalogue
from tests.conftest import ROOT
from tests.contract.official import official_apis
from tests.contract.test_emulator_vs_sdk import png
from tests.support.replay_server import ReplayServer

CAT = catalogue.load()
OFFICIAL = official_apis()
PROJECT = "0123456789abcdef0123456789abcdef"
REGIONS = [r for r in catalogue.KNOWN_REGIONS if CAT.regions.get(r)]
INVOICE = {"code": "011001900211", "number": "12345678",
           "issue_date": (date.today() - timedelta(days=30)).isoformat(), "check_code": "123456"}


def upload_for(api: str) -> tuple[str, bytes]:
    if CAT.apis[api].takes_file:
        return f"{api}/page.png", png()
    return f"{api}/fields.json", json.dumps(INVOICE).encode()


def sdk_request(api: str, data: bytes) -> Any:
    official, limits = OFFICIAL[api], CAT.apis[api]
    if limits.takes_file:
        return official.request(body=official.body(**{limits.body_field: base64.b64encode(data).decode()}))
    return official.request(body=official.body(**INVOICE))


@pytest.mark.parametrize("region", REGIONS)
def test_every_api_of_the_region_is_called_as_the_official_client_calls_it(tmp_path: Path,
                                                                           region: str) -> None:
    apis = sorted(CAT.regions[region])
    ours, theirs = ReplayServer(), ReplayServer()
    try:
        bucket = tmp_path / "buckets" / "uploads"
        records = []
        files = {}
        for api in apis:
            key, data = upload_for(api)
            files[api] = data
            (bucket / key).parent.mkdir(parents=True, exist_ok=True)
            (bucket / key).write_bytes(data)
            records.append({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                            "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": "uploads"}, "object": {"key": key, "size": len(data)}}})
        (tmp_path / "event.json").write_text(json.dumps({"Records": records}))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"),
               "OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(),
               "OCR_ENDPOINT": ours.url + "/{region}", "OCR_REGION": region,
               "OCR_PROJECT_ID": PROJECT, "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK",
               "OCR_ROUTES": json.dumps([{"prefix": f"{api}/", "api": api} for api in apis]
                                        + [{"api": apis[0]}])}
        run = subprocess.run([sys.executable, "-m", "ocrflow.cli", "invoke", "event.json"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        summary = json.loads(run.stdout)
        assert summary["counts"]["results"] == len(apis), summary

        config = HttpConfig.get_default_config()
        config.retry_times = 0
        client = (OcrClient.new_builder().with_http_config(config)
                  .with_credentials(BasicCredentials("AK", "SK", PROJECT))
                  .with_region(Region(region, theirs.url)).build())
        for api in apis:
            getattr(client, OFFICIAL[api].method)(sdk_request(api, files[api]))

        sent = {r.path.rsplit("/", 1)[1]: r for r in ours.received}
        official = {r.path.rsplit("/", 1)[1]: r for r in theirs.received}
        assert set(sent) == set(official) == set(apis)
        for api in apis:
            assert sent[api].method == official[api].method == "POST"
            # the region is the endpoint's; the path below it is the SDK's, byte for byte
            assert sent[api].path == f"/{region}" + official[api].path, api
            assert json.loads(sent[api].body) == json.loads(official[api].body), api
            assert sent[api].headers["Authorization"].startswith("SDK-HMAC-SHA256 ")
    finally:
        ours.stop()
        theirs.stop()
