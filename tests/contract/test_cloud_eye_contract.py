"""What ocrflow sends to Cloud Eye, held to Huawei's own client (``huaweicloudsdkces`` and
``huaweicloudsdkcore``, pinned in the test extra): the body is a list of the official
``CreateMetricDataRequestBody`` models, exactly what the official ``CesClient`` sends for the
same data points on the same path, and the signature is the one the official signer computes."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkces.v1 import (
    CesClient,
    CreateMetricDataRequest,
    CreateMetricDataRequestBody,
    MetricInfo,
    MetricsDimension,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization

from tests.conftest import load_event
from tests.support.platform import (
    FUNCTIONGRAPH_PROJECT_ID,
    FunctionGraphContext,
    make_functiongraph_platform,
    tear_down,
)
from tests.support.replay_server import Received, ReplayServer
from tests.unit.test_pipeline import png_bytes

PINNED = "3.1.219"
AK, SK, TOKEN = "TEMPAKCESCONTRACT", "temp-sk-ces-contract-0000000000", "temp-token-ces-contract"
#: ranges the official models' docstrings give (MetricInfo, MetricsDimension, the body)
METRIC_NAME = re.compile(r"^[A-Za-z][0-9A-Za-z_-]{0,95}$")
DIMENSION_NAME = re.compile(r"^[A-Za-z][0-9A-Za-z_-]{0,31}$")
NAMESPACE_PART = re.compile(r"^[A-Za-z][0-9A-Za-z_]{2,31}$")
PY_TYPES = {"int": (int,), "float": (int, float), "str": (str,)}


def test_the_pinned_sdks_are_installed() -> None:
    from importlib.metadata import version

    assert (version("huaweicloudsdkces"), version("huaweicloudsdkcore")) == (PINNED, PINNED)


@pytest.fixture
def sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer,
         cloud_eye: ReplayServer) -> Iterator[Received]:
    """The request the recognize function sends to Cloud Eye for one invocation with three
    records over two APIs in two regions, as FunctionGraph runs it."""
    p = make_functiongraph_platform(
        tmp_path, monkeypatch, replay.url + "/{region}", CES_ENDPOINT=cloud_eye.url,
        OCR_ROUTES=json.dumps([{"prefix": "cards/", "api": "id-card"}, {"api": "general-text"}]),
        OCR_API_REGIONS=json.dumps({"id-card": "cn-east-3"}),
        OCR_PROJECT_IDS=json.dumps({"cn-east-3": "0e3c0ffee0e3c0ffee0e3c0ffee0e3c0"}))
    data = png_bytes()
    event = load_event("functiongraph_obs_trigger.json")
    template = event["Records"][0]
    event["Records"] = []
    for key in ("cards/a.png", "cards/b.png", "scans/c.png"):
        p.put("ocrflow-uploads", key, data)
        record = json.loads(json.dumps(template))
        record["obs"]["object"].update(key=key, size=len(data),
                                       eTag=hashlib.md5(data).hexdigest())  # noqa: S324 - ETag
        event["Records"].append(record)
    try:
        p.invoke(event, FunctionGraphContext(access_key=AK, secret_key=SK, security_token=TOKEN))
        [request] = cloud_eye.received
        yield request
    finally:
        tear_down()


def official_models(body: list[dict[str, Any]]) -> list[CreateMetricDataRequestBody]:
    return [CreateMetricDataRequestBody(
        metric=MetricInfo(namespace=item["metric"]["namespace"],
                          metric_name=item["metric"]["metric_name"],
                          dimensions=[MetricsDimension(**d) for d in item["metric"]["dimensions"]]),
        ttl=item["ttl"], collect_time=item["collect_time"], value=item["value"],
        unit=item.get("unit"), type=item.get("type")) for item in body]


def check_fields(obj: dict[str, Any], model: type) -> None:
    assert set(obj) <= set(model.attribute_map.values()), (set(obj), model.__name__)
    for python_name, json_name in model.attribute_map.items():
        if json_name in obj and model.openapi_types[python_name] in PY_TYPES:
            assert isinstance(obj[json_name], PY_TYPES[model.openapi_types[python_name]]), json_name


def test_the_body_is_a_list_of_the_official_request_models(sent: Received) -> None:
    body = json.loads(sent.body)
    assert isinstance(body, list) and body
    now_ms = time.time() * 1000
    for item in body:
        check_fields(item, CreateMetricDataRequestBody)
        check_fields(item["metric"], MetricInfo)
        for dim in item["metric"]["dimensions"]:
            check_fields(dim, MetricsDimension)
        # mandatory in the API reference; ranges from the models' docstrings
        assert {"metric", "ttl", "collect_time", "value"} <= set(item)
        assert 1 <= item["ttl"] <= 604800
        assert now_ms - 3 * 86400_000 + 10_000 <= item["collect_time"] <= now_ms + 600_000 - 10_000
        assert item["type"] in {"int", "float"}
        assert isinstance(item["value"], int if item["type"] == "int" else float)
        assert len(item["unit"]) <= 32
        metric = item["metric"]
        assert all(NAMESPACE_PART.match(part) for part in metric["namespace"].split(".")) and \
            metric["namespace"].count(".") == 1
        assert METRIC_NAME.match(metric["metric_name"])
        assert 1 <= len(metric["dimensions"]) <= 4
        for dim in metric["dimensions"]:
            assert DIMENSION_NAME.match(dim["name"]) and 1 <= len(dim["value"]) <= 256
    # nothing dropped, renamed or retyped when the official models carry it
    assert sanitize_for_serialization(official_models(body)) == body


def test_the_official_client_sends_the_same_request(sent: Received, cloud_eye: ReplayServer) -> None:
    body = json.loads(sent.body)
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    client = (CesClient.new_builder().with_http_config(config)
              .with_credentials(BasicCredentials(AK, SK, FUNCTIONGRAPH_PROJECT_ID)
                                .with_security_token(TOKEN))
              .with_region(Region("cn-north-4", cloud_eye.url)).build())
    client.create_metric_data(CreateMetricDataRequest(body=official_models(body)))
    official = cloud_eye.received[-1]
    assert official.path == sent.path == f"/V1.0/{FUNCTIONGRAPH_PROJECT_ID}/metric-data"
    assert json.loads(official.body) == body
    assert official.headers["X-Security-Token"] == sent.headers["X-Security-Token"] == TOKEN
    assert official.headers["Content-Type"].split(";")[0] == sent.headers["Content-Type"].split(";")[0]


def test_the_official_signer_computes_the_same_signature(sent: Received) -> None:
    authorization = sent.headers["Authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-sdk-date", "x-security-token", "content-type"} <= set(signed)
    headers = {k: v for k, v in sent.headers.items() if k.lower() in signed}
    host = next(v for k, v in sent.headers.items() if k.lower() == "host")
    request = SdkRequest(method="POST", schema="http", host=host, resource_path=sent.path,
                         query_params=[], header_params=headers, body=sent.body)
    Signer(BasicCredentials(AK, SK)).sign(request)
    assert request.header_params["Authorization"] == authorization


#: "The size of a POST request cannot exceed 512 KB" (Cloud Eye, Adding Monitoring Data)
MAX_REQUEST_BYTES = 512 * 1024


def test_generated_invocations_always_send_valid_counts_in_one_request() -> None:
    """Seeded random invocations over the catalogue's APIs and regions: every pair counted
    appears once with its exact counts, every data point is an official model, and even an
    invocation that touched every (api, region) the catalogue offers fits in one request."""
    import random

    from ocrflow.observability.metrics import CloudEye, Metrics
    from ocrflow.provider import catalogue

    cat = catalogue.load()
    offered = sorted((api, region) for region, apis in cat.regions.items() for api in apis)
    eye = CloudEye("https://ces.cn-north-4.myhuaweicloud.com", "OCRFLOW.OCR", session=lambda: None)
    rng = random.Random(20261205)  # noqa: S311 - test data
    for case in range(200):
        metrics = Metrics("ns", "svc", mode="ces", cloud_eye=eye)
        expected: dict[tuple[str, str], list[int]] = {}
        pairs = offered if case == 0 else rng.sample(offered, rng.randint(1, 12))
        for api, region in pairs:
            for _ in range(rng.randint(1, 30)):
                ok = rng.random() < 0.8
                metrics.record_call(api, region, ok, rng.uniform(0.5, 30000))
                counts = expected.setdefault((api, region), [0, 0, 0, 0])
                counts[0] += 1
                counts[1 if ok else 2] += 1
            billed = rng.randint(0, 5)
            metrics.record_billed(api, region, billed)
            expected[api, region][3] += billed
        body = eye.body(metrics._take(), now_ms=int(time.time() * 1000))
        assert len(json.dumps(body, separators=(",", ":")).encode()) <= MAX_REQUEST_BYTES, case
        assert sanitize_for_serialization(official_models(body)) == body
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for item in body:
            dims = tuple(d["value"] for d in item["metric"]["dimensions"])
            assert len(dims) == 2 and dims[1] in cat.regions
            seen.setdefault(dims, {})[item["metric"]["metric_name"]] = item["value"]
        assert set(seen) == set(expected)
        for pair, (total, success, failed, billed) in expected.items():
            values = seen[pair]
            assert (values["OcrCallsTotal"], values["OcrCallsSuccess"], values["OcrCallsFailed"],
                    values["OcrBilledUnits"]) == (total, success, failed, billed)
            assert 0.5 <= values["OcrCallDuration"] <= 30000
