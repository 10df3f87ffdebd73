"""Which OCR API is offered in which region, and what each API accepts.

The table is data (``data/catalogue.json``), shared by the client (refuse before paying)
and the emulator (answer like the real service).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

KNOWN_REGIONS = (
    "cn-north-4", "cn-north-1", "cn-east-3", "cn-south-1", "cn-southwest-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "af-south-1", "la-south-2",
    "la-north-2",
)


@dataclass(frozen=True)
class ApiLimits:
    name: str
    body_field: str  # "image", "data" or "json" (invoice-verification takes fields, no file)
    formats: frozenset[str]
    min_side: int
    max_side: int
    max_pixels: int | None
    text: bool  # a plain text-recognition API (the emulator truly recognises these)


@dataclass(frozen=True)
class Catalogue:
    apis: dict[str, ApiLimits]
    regions: dict[str, frozenset[str]]
    max_image_base64_bytes: int
    max_body_bytes: int

    def offers(self, region: str, api: str) -> bool:
        return api in self.regions.get(region, frozenset())

    def regions_offering(self, api: str) -> list[str]:
        return [r for r, apis in self.regions.items() if api in apis]

    @property
    def max_file_bytes(self) -> int:
        # base64 grows 4/3: the largest raw file whose encoding fits the limit.
        return self.max_image_base64_bytes // 4 * 3


def _parse(doc: dict[str, Any]) -> Catalogue:
    profiles = doc["profiles"]
    apis: dict[str, ApiLimits] = {}
    for name, spec in doc["apis"].items():
        profile = profiles.get(spec["profile"], {"formats": [], "min_side": 0, "max_side": 0,
                                                  "max_pixels": None})
        apis[name] = ApiLimits(
            name=name,
            body_field=spec["body"],
            formats=frozenset(profile["formats"]),
            min_side=profile["min_side"],
            max_side=profile["max_side"],
            max_pixels=profile["max_pixels"],
            text=spec.get("text", False),
        )
    regions = {r: frozenset(a) for r, a in doc["regions"].items()}
    return Catalogue(apis, regions, doc["max_image_base64_bytes"], doc["max_body_bytes"])


@lru_cache(maxsize=1)
def load() -> Catalogue:
    # a plain path, not importlib.resources: the package is always unpacked on the function
    # platforms, and this keeps importlib.resources out of the cold start
    raw = (Path(__file__).parent / "data" / "catalogue.json").read_text("utf-8")
    return _parse(json.loads(raw))
