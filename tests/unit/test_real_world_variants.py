"""Files real users upload, made at test time: each one reaches the API exactly once. A local
check that refuses one of them loses an upload the service would have read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from ocrflow.documents import filecheck
from ocrflow.provider import catalogue
from tests.support.harness import make_harness
from tests.support.replay_server import ReplayServer
from tests.support.variants import VARIANTS
from tests.unit.test_pipeline import s3_event

ROUTES = ('[{"prefix": "id-card/", "api": "id-card"}, {"prefix": "vat-invoice/", "api": "vat-invoice"}]')


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_variant_is_a_file_decoders_read(name: str) -> None:
    make, api, decodable = VARIANTS[name]
    data = make()
    if decodable:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            assert img.size == (640, 480)
    facts = filecheck.check(data, catalogue.load().apis[api], catalogue.load())
    assert facts.format == {"jpg": "jpg", "tif": "tiff", "ofd": "ofd"}.get(name.rsplit(".", 1)[1],
                                                                           name.rsplit(".", 1)[1])
    if decodable:
        assert (facts.width, facts.height) == (640, 480)


def test_each_variant_reaches_the_api_exactly_once(tmp_path: Path, replay: ReplayServer) -> None:
    h = make_harness(tmp_path, replay.url + "/{region}", OCR_ROUTES=ROUTES)
    keys = []
    for name, (make, api, _) in sorted(VARIANTS.items()):
        key = f"{api}/{name}"
        h.put("ocrflow-uploads", key, make())
        keys.append(key)
    h.invoke(s3_event(*keys))
    assert h.failures() == []
    assert len(h.results()) == len(VARIANTS)
    called = sorted(r.path.rsplit("/", 1)[1] for r in replay.received)
    assert called == sorted(api for _, api, _ in VARIANTS.values())
    h.close()
