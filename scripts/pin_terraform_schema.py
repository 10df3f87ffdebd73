"""Pins the published schema of the huaweicloud/huaweicloud Terraform provider for the
resources and data sources deploy/huaweicloud uses.

The provider publishes each resource's and data source's schema in its repository
(``docs/json/resources/NAME.json``, ``docs/json/data-sources/NAME.json``, in the form of
``terraform providers schema -json``). This script reads them at the provider's release tag
from a clone of that repository and writes ``deploy/huaweicloud/schema.json``: for the types
the configuration uses only, their structure (each argument required, optional and/or
computed; each nested block's nesting and item limits), with the provider version and the
commit it was read at. Descriptions are left out: the tests need the structure.
``make test`` checks the configuration against it offline
(tests/unit/test_terraform_huaweicloud.py).

    git clone https://github.com/huaweicloud/terraform-provider-huaweicloud /tmp/provider
    python scripts/pin_terraform_schema.py --provider-repo /tmp/provider --version 1.97.1

Run it again after changing the provider version in versions.tf or the resources used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "huaweicloud"
SCHEMA = CONFIG / "schema.json"
SOURCE = "huaweicloud/huaweicloud"
REPOSITORY = "https://github.com/huaweicloud/terraform-provider-huaweicloud"
PREFIX = "huaweicloud_"


def used_types(config: Path = CONFIG) -> dict[str, set[str]]:
    """``{"resource": {...}, "data": {...}}``: the types every ``*.tf`` file declares."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, strip_string_quotes=True)
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sorted(config.glob("*.tf")):
        with path.open(encoding="utf-8") as f:
            parsed = hcl2.load(f, serialization_options=options)
        for kind in found:
            for block in parsed.get(kind, []):
                found[kind].update(block)
    return found


def git(repo: Path, *args: str) -> str:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True,
                          capture_output=True, text=True).stdout


def structure(block: dict[str, Any]) -> dict[str, Any]:
    """One schema block as the checks need it: attribute flags and nested blocks."""
    out: dict[str, Any] = {"attributes": {}, "blocks": {}}
    for name, attr in sorted(block.get("attributes", {}).items()):
        out["attributes"][name] = ",".join(flag for flag in ("required", "optional", "computed")
                                           if attr.get(flag))
    for name, nested in sorted(block.get("block_types", {}).items()):
        out["blocks"][name] = {"nesting": nested.get("nesting_mode"),
                               "min_items": nested.get("min_items", 0),
                               "max_items": nested.get("max_items"),
                               **structure(nested.get("block", {}))}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--provider-repo", type=Path, required=True,
                        help="a clone (or bare mirror) of " + REPOSITORY)
    parser.add_argument("--version", required=True, help="provider version, e.g. 1.97.1")
    args = parser.parse_args(argv)

    tag = f"v{args.version}"
    commit = git(args.provider_repo, "rev-list", "-n", "1", tag).strip()
    sections = {"resource": ("resources", "resource_schemas"),
                "data": ("data-sources", "data_source_schemas")}
    pinned: dict[str, Any] = {
        "provider": {"source": SOURCE, "version": args.version, "tag": tag, "commit": commit,
                     "repository": REPOSITORY, "read_from": "docs/json/{resources,data-sources}/*.json",
                     "generated_by": "scripts/pin_terraform_schema.py"},
        "resources": {}, "data_sources": {}}
    for kind, types in used_types().items():
        folder, key = sections[kind]
        for name in sorted(types):
            if not name.startswith(PREFIX):
                print(f"{kind} {name}: not a {SOURCE} type", file=sys.stderr)
                return 2
            short = name.removeprefix(PREFIX)
            try:
                text = git(args.provider_repo, "show", f"{commit}:docs/json/{folder}/{short}.json")
            except subprocess.CalledProcessError:
                print(f"{kind} {name}: no docs/json/{folder}/{short}.json at {tag}", file=sys.stderr)
                return 2
            schemas = json.loads(text)["provider_schemas"][SOURCE][key]
            pinned["resources" if kind == "resource" else "data_sources"][name] = structure(
                schemas[name]["block"])
    SCHEMA.write_text(json.dumps(pinned, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"pinned {len(pinned['resources'])} resources and {len(pinned['data_sources'])} data "
          f"sources of {SOURCE} {args.version} ({commit[:12]}) in {SCHEMA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
