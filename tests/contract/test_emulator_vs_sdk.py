"""The emulator answers the official client's own requests: the SDK signs, builds the body
and parses the answer into its response model, exactly as against the real service."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkocr.v1 import OcrClient
from PIL import Image

from ocrflow.emulator.server import RunningEmulator, start_emulator
from ocrflow.provider import catalogue
from tests.contract.official import OfficialApi, official_apis

CAT = catalogue.load()
OFFICIAL = official_apis()
AK, SK, PROJECT = "SDKCONTRACTAK", "SDKCONTRACTSK", "0123456789abcdef0123456789abcdef"
PAIRS = sorted((region, api) for region, apis in CAT.regions.items() for api in apis)


def png(w: int = 400, h: int = 300) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, "PNG")
    return buf.getvalue()


def official_request(official: OfficialApi, image: bytes) -> Any:
    limits = CAT.apis[official.path]
    if limits.takes_file:
        body = official.body(**{limits.body_field: base64.b64encode(image).decode()})
    else:
        body = official.body(code="011001900211", number="12345678", issue_date="2024-01-02",
                             check_code="123456")
    return official.request(body=body)


def sdk_client(emu: RunningEmulator, region: str) -> OcrClient:
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    return (OcrClient.new_builder().with_http_config(config)
            .with_credentials(BasicCredentials(AK, SK, PROJECT))
            .with_region(Region(region, emu.url)).build())


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, RunningEmulator]]:
    # the official SDK drops any path in the endpoint, so each emulator stands for one region
    running = {r: start_emulator(region=r, recognition=False, credentials={AK: SK})
               for r in CAT.regions}
    yield running
    for emu in running.values():
        emu.stop()


@pytest.mark.parametrize("region, api", PAIRS, ids=[f"{r}:{a}" for r, a in PAIRS])
def test_the_emulator_answers_the_official_clients_request(emulators: dict[str, RunningEmulator],
                                                           region: str, api: str) -> None:
    official = OFFICIAL[api]
    client = sdk_client(emulators[region], region)
    response = getattr(client, official.method)(official_request(official, png()))
    assert response.status_code == 200
    assert response.result is not None  # parsed into the SDK's own result model


def test_an_api_the_region_does_not_deploy_is_an_unknown_path(emulators: dict[str, RunningEmulator]) -> None:
    official = OFFICIAL["general-text"]
    client = sdk_client(emulators["cn-south-1"], "cn-south-1")
    with pytest.raises(ClientRequestException) as err:
        client.recognize_general_text(official_request(official, png()))
    assert (err.value.status_code, err.value.error_code) == (404, "APIG.0101")


def test_a_package_bought_elsewhere_is_modelarts_4204() -> None:
    with start_emulator(region="cn-east-3", recognition=False, credentials={AK: SK},
                        packages={"general-text": "cn-north-4"}) as emu:
        client = sdk_client(emu, "cn-east-3")
        with pytest.raises(ClientRequestException) as err:
            client.recognize_general_text(official_request(OFFICIAL["general-text"], png()))
    assert (err.value.status_code, err.value.error_code) == (403, "ModelArts.4204")


def test_auto_classification_bills_each_recognized_document(emulators: dict[str, RunningEmulator]) -> None:
    emu = emulators["cn-north-4"]
    emu.reset()
    client = sdk_client(emu, "cn-north-4")
    response = client.recognize_auto_classification(
        official_request(OFFICIAL["auto-classification"], png()))
    assert len(response.result) == 2  # two documents on the page, one recognized
    assert emu.stats()["by_api"]["auto-classification"]["cn-north-4"]["billed"] == 1
