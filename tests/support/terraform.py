"""The Terraform configuration under deploy/huaweicloud, parsed with python-hcl2 and checked
against the provider schema pinned in deploy/huaweicloud/schema.json (the provider's own
published schema, reduced to its structure by scripts/pin_terraform_schema.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "huaweicloud"
SCHEMA = CONFIG / "schema.json"
#: arguments every resource or data block may carry whatever its schema
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})
_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)


@dataclass(frozen=True)
class Block:
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{'data.' if self.kind == 'data' else ''}{self.type}.{self.name}"


def parse_text(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTIONS)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def parsed_files() -> dict[str, dict[str, Any]]:
    return {path.name: parse_text(path.read_text(encoding="utf-8"))
            for path in sorted(CONFIG.glob("*.tf"))}


def blocks_of(parsed: dict[str, Any]) -> Iterator[Block]:
    for kind in ("resource", "data"):
        for entry in parsed.get(kind, []):
            for type_, named in entry.items():
                for name, body in named.items():
                    yield Block(kind, type_, name, body)


def blocks(type_: str | None = None) -> list[Block]:
    found = [b for parsed in parsed_files().values() for b in blocks_of(parsed)]
    return [b for b in found if type_ is None or b.type == type_]


def one(type_: str, name: str) -> dict[str, Any]:
    [found] = [b.body for b in blocks(type_) if b.name == name]
    return found


def top_level(key: str) -> dict[str, Any]:
    """Every ``variable`` / ``output`` / ``locals`` entry of the configuration, merged."""
    out: dict[str, Any] = {}
    for parsed in parsed_files().values():
        for entry in parsed.get(key, []):
            out.update(entry)
    return out


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _nested(value: Any) -> list[dict[str, Any]] | None:
    """The bodies of a nested block (hcl2 marks blocks with ``__is_block__``), or None for
    an argument (an object value is an argument, not a block)."""
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(i, dict) and i.get("__is_block__") for i in items):
        return items
    return None


def problems_in(body: dict[str, Any], block_schema: dict[str, Any], where: str,
                top: bool = True) -> list[str]:
    """What the provider would refuse in ``body``: unknown or computed-only arguments,
    unknown blocks, missing required arguments or blocks, too many blocks."""
    found: list[str] = []
    attributes: dict[str, str] = block_schema["attributes"]
    nested_schemas: dict[str, Any] = block_schema["blocks"]
    counts: dict[str, int | None] = {}
    for key, value in body.items():
        if key == "__is_block__" or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic":
            for dynamic in value:
                for block_type, spec in dynamic.items():
                    if block_type not in nested_schemas:
                        found.append(f"{where}: no block {block_type!r}")
                        continue
                    counts[block_type] = None  # as many as for_each gives
                    for content in spec.get("content", []):
                        found += problems_in(content, nested_schemas[block_type],
                                             f"{where}.{block_type}", top=False)
            continue
        nested = _nested(value)
        if nested is not None and key in nested_schemas:
            counts[key] = len(nested)
            for item in nested:
                found += problems_in(item, nested_schemas[key], f"{where}.{key}", top=False)
        elif key in attributes:
            if attributes[key] == "computed":
                found.append(f"{where}: {key!r} is computed by the provider, not an argument")
        elif key in nested_schemas:
            found.append(f"{where}: {key!r} is a block, set as an argument")
        else:
            found.append(f"{where}: no argument {key!r}")
    for key, flags in attributes.items():
        if "required" in flags.split(",") and key not in body:
            found.append(f"{where}: required argument {key!r} missing")
    for key, spec in nested_schemas.items():
        count = counts.get(key, 0)
        if count is not None and count < (spec.get("min_items") or 0):
            found.append(f"{where}: block {key!r} required")
        if count is not None and spec.get("max_items") is not None and count > spec["max_items"]:
            found.append(f"{where}: at most {spec['max_items']} {key!r} block(s)")
    return found


def problems(block: Block) -> list[str]:
    section = schema()["resources" if block.kind == "resource" else "data_sources"]
    if block.type not in section:
        return [f"{block.address}: not a {schema()['provider']['source']} "
                f"{'resource' if block.kind == 'resource' else 'data source'} (or not pinned)"]
    return problems_in(block.body, section[block.type], block.address)
