"""The AsyncAPI 3.0 document: generated from the shipped JSON Schemas, up to date, and valid
for the official AsyncAPI parser (installed by ``make test`` from scripts/asyncapi)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocrflow.contract import messages
from tests.conftest import ROOT

VALIDATOR = ROOT / "scripts" / "asyncapi" / "validate.mjs"
DOCUMENT = ROOT / "shared" / "ocrflow" / "data" / "asyncapi.yaml"


def generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_asyncapi", ROOT / "scripts" / "make_asyncapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate(path: Path) -> tuple[int, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the AsyncAPI validator (@asyncapi/parser) needs Node.js",
                    pytrace=False)
    if not (VALIDATOR.parent / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("@asyncapi/parser is not installed: run `make test` (it runs npm ci in "
                    "scripts/asyncapi)", pytrace=False)
    done = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True,
                          timeout=120, cwd=VALIDATOR.parent)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def test_document_is_generated_from_the_current_schemas() -> None:
    assert DOCUMENT.read_text("utf-8") == generator().render(), \
        "shared/ocrflow/data/asyncapi.yaml is out of date: run python scripts/make_asyncapi.py"


def test_document_validates_with_the_official_asyncapi_parser() -> None:
    code, report = validate(DOCUMENT)
    errors = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    assert code == 0 and report["valid"] and not errors, errors
    assert report["version"] == "3.0.0"
    assert sorted(report["channels"]) == sorted(
        f"{b}{k}" for b in ("sqs", "sns", "amqp", "redis", "kafka") for k in ("Results", "Failures"))
    assert len(report["operations"]) == 10


@pytest.mark.parametrize("breakage", ["action", "amqp-binding", "payload"])
def test_the_validator_refuses_a_broken_document(tmp_path: Path, breakage: str) -> None:
    doc = yaml.safe_load(DOCUMENT.read_text("utf-8"))
    if breakage == "action":
        doc["operations"]["sendSqsResult"]["action"] = "publish"  # AsyncAPI 2 wording
    elif breakage == "amqp-binding":
        doc["channels"]["amqpResults"]["bindings"]["amqp"]["is"] = "topic"
    else:
        doc["components"]["schemas"]["OcrResult"]["properties"]["id"]["type"] = "text"
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(doc), "utf-8")
    code, report = validate(broken)
    assert code == 1 and not report["valid"]
    assert any(d["severity"] == "error" for d in report["diagnostics"])


def test_payloads_are_the_shipped_schemas() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text("utf-8"))
    components = doc["components"]["schemas"]
    for kind, name in ((messages.RESULT_TYPE, "OcrResult"), (messages.FAILURE_TYPE, "OcrFailure")):
        shipped = messages.schema(kind)
        # the document's refs point into its components; read back, they are the file's
        text = json.dumps(components[name]).replace(f'"#/components/schemas/{name}_', '"#/$defs/')
        embedded = json.loads(text)
        embedded.pop("description")
        defs = {k.removeprefix(f"{name}_"): json.loads(json.dumps(v).replace(
            f'"#/components/schemas/{name}_', '"#/$defs/')) for k, v in components.items()
            if k.startswith(f"{name}_")}
        assert embedded == {k: v for k, v in shipped.items() if k not in ("$schema", "$id", "$defs")}
        assert defs == shipped.get("$defs", {})
