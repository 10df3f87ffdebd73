"""The docs' contracts match the code: every OCRFLOW code, every variable, the API × region
table and the region advice."""

from __future__ import annotations

import re

from ocrflow.config.settings import ENV
from ocrflow.core.errors import OCRFLOW_CODES
from ocrflow.observability.metrics import DEFAULT_CES_NAMESPACE
from tests.conftest import ROOT

DOCS = ROOT / "docs"
ERRORS = (DOCS / "errors.md").read_text("utf-8")
CONFIGURATION = (DOCS / "configuration.md").read_text("utf-8")


def test_every_ocrflow_code_is_documented_with_its_meaning_and_action() -> None:
    block = ERRORS.split("<!-- codes:start -->")[1].split("<!-- codes:end -->")[0]
    rows = re.findall(r"^\| `(OCRFLOW\.[A-Z_]+)` \| (.+?) \| (.+?) \|$", block, re.M)
    assert {code for code, _, _ in rows} == set(OCRFLOW_CODES)
    for code, meaning, action in rows:
        assert meaning == OCRFLOW_CODES[code].meaning
        assert action == OCRFLOW_CODES[code].action


def test_the_codes_table_is_generated_from_the_catalogue() -> None:
    from ocrflow.core.errors import codes_markdown

    block = ERRORS.split("<!-- codes:start -->\n")[1].split("\n<!-- codes:end -->")[0]
    assert block == codes_markdown(), "run: python scripts/update_doc_tables.py"


def test_every_code_used_in_the_source_is_listed() -> None:
    used: set[str] = set()
    for path in (ROOT / "shared" / "ocrflow").rglob("*.py"):
        used |= set(re.findall(r'"(OCRFLOW\.[A-Z_]+)"', path.read_text("utf-8")))
    used.discard(DEFAULT_CES_NAMESPACE)  # the Cloud Eye namespace, not a code
    assert used <= set(OCRFLOW_CODES), used - set(OCRFLOW_CODES)


def test_every_configuration_variable_is_documented() -> None:
    table = CONFIGURATION.split("## Variables")[1].split("\n## ")[0]
    for names in ENV.values():
        for name in names:
            assert f"`{name}`" in table, name


def test_the_api_region_table_is_generated_from_the_catalogue() -> None:
    from ocrflow.provider.catalogue import regions_markdown

    block = CONFIGURATION.split("<!-- regions:start -->\n")[1].split("\n<!-- regions:end -->")[0]
    assert block == regions_markdown(), "run: python scripts/update_doc_tables.py"
    # the sources and the date they were read are part of the table
    assert "ocr_03_0062" in block and "read 2026-11-25" in block


def test_the_region_advice_in_the_docs_matches_the_catalogue() -> None:
    from ocrflow.provider.catalogue import load

    prose = " ".join(CONFIGURATION.split("## Routing")[1].split("## APIs and regions")[0].split())
    offered = re.search(r"`cn-south-1` offers only (.+?)\.", prose)
    assert offered is not None
    assert set(re.findall(r"`([a-z-]+)`", offered.group(1))) == load().regions["cn-south-1"]
    advised = re.search(r'`\{"auto-classification": "([a-z0-9-]+)"\}`', prose)
    assert advised is not None and load().offers(advised.group(1), "auto-classification")
