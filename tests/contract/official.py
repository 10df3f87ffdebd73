"""What the official client (``huaweicloudsdkocr``, pinned in the test extra) says about each
API: its path, request model, body model and response model, read from the SDK itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import huaweicloudsdkocr
import huaweicloudsdkocr.v1 as v1
from huaweicloudsdkocr.v1 import OcrClient

PINNED = "3.1.219"
_HTTP_INFO = re.compile(r"^_(recognize_\w+)_http_info$")
_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(([^,]+),\s*(.+)\)$")


@dataclass(frozen=True)
class OfficialApi:
    path: str  # the last segment of resource_path, e.g. "id-card"
    method: str  # the client's method name, e.g. "recognize_id_card"
    request: type
    body: type
    response: type

    @property
    def fields(self) -> set[str]:
        return set(self.body.attribute_map.values())

    def docstring(self, field: str) -> str:
        """The ``:param field:`` text of the body model's constructor (formats, limits)."""
        doc = self.body.__init__.__doc__ or ""
        found = re.search(rf":param {field}: (.*?)\n\s*:type {field}:", doc, re.S)
        return " ".join(found.group(1).split()) if found else ""


def _camel(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


@lru_cache(maxsize=1)
def official_apis() -> dict[str, OfficialApi]:
    out: dict[str, OfficialApi] = {}
    for name in dir(OcrClient):
        found = _HTTP_INFO.match(name)
        if not found:
            continue
        method = found.group(1)
        request_cls = getattr(v1, _camel(method) + "Request")
        info = getattr(OcrClient, name)(request_cls())
        path = info["resource_path"]
        assert path.startswith("/v2/{project_id}/ocr/"), path
        body_cls = getattr(v1, request_cls.openapi_types["body"])
        response_cls = getattr(v1, info["response_type"])
        out[path.rsplit("/", 1)[1]] = OfficialApi(path.rsplit("/", 1)[1], method, request_cls,
                                                  body_cls, response_cls)
    return out


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version(huaweicloudsdkocr.__name__)


def skeleton(type_name: str, depth: int = 0) -> Any:
    """A value of the SDK type ``type_name`` with placeholder leaves ("xxx", 0, false), the
    way the API reference publishes its examples."""
    if depth > 6:
        return None
    if type_name == "str":
        return "xxx"
    if type_name in ("int", "float"):
        return 0
    if type_name == "bool":
        return False
    if type_name == "object":
        return {}
    listed = _LIST.match(type_name)
    if listed:
        return [skeleton(listed.group(1), depth + 1)]
    if _DICT.match(type_name):
        return {}
    model = getattr(v1, type_name, None)
    if model is None or not hasattr(model, "openapi_types"):
        return None
    return {model.attribute_map[attr]: skeleton(t, depth + 1)
            for attr, t in model.openapi_types.items()}


def result_skeleton(api: str) -> Any:
    response = official_apis()[api].response
    return skeleton(response.openapi_types["result"])
