"""The README is a front door to the pages in docs/: every relative link in them leads
somewhere (the file exists, an ``#anchor`` is a heading of the target page as GitHub names
it), and the README stays short and shows the two commands CI and users run."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, where links and headings are read."""
    kept, fence = [], ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and line.strip().startswith(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        kept.append(line)
    return kept


def github_slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: the rendered text (code spans, links and
    emphasis reduced to their text) in lower case, every character but letters, digits,
    ``_``, ``-`` and spaces dropped, each space a ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").replace("*", "")
    return "".join(c for c in text.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (a repeated one gets ``-1``, ``-2``…,
    as on GitHub) and explicit ``<a id=…>``."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        found |= set(_HTML_ANCHOR.findall(line))
        heading = _HEADING.match(line)
        if heading is None:
            continue
        slug = github_slug(heading.group(2))
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        found.add(slug)
    return found


def links(text: str) -> list[str]:
    """The targets of the page's links and images, code spans and code blocks left out."""
    targets: list[str] = []
    for line in prose_lines(text):
        reference = _REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
            continue
        targets += _LINK.findall(_INLINE_CODE.sub("", line))
    return targets


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` that leads nowhere, with the reason."""
    broken = []
    for target in links(page.read_text("utf-8")):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # a web address: not checked offline
        path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif parts.fragment and path.suffix == ".md":
            if unquote(parts.fragment) not in anchors(path.read_text("utf-8")):
                broken.append(f"{target}: no heading with that anchor in {path.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        for target in links(page.read_text("utf-8")):
            parts = urlsplit(target)
            if not parts.scheme and parts.path.endswith(".md"):
                todo.append((page.parent / unquote(parts.path)).resolve())
    assert set(PAGES) - reached == set()


def test_the_checker_finds_a_missing_page_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Staying under the provider's rate\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Exactly one message, and when a call is paid twice\n\n"
        "[ok](other.md#staying-under-the-providers-rate)\n"
        "[ok](#exactly-one-message-and-when-a-call-is-paid-twice)\n"
        "[gone](missing.md) [wrong](other.md#staying-under-the-provider-s-rate)\n"
        "[web](https://example.com/x#y)\n"
        "`[in code](nowhere.md)`\n\n```md\n[in a block](nowhere.md)\n```\n")
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#staying-under-the-provider-s-rate: no heading with that anchor in other.md"]


@pytest.mark.parametrize(("heading", "slug"), [
    ("Exactly one message, and when a call is paid twice",
     "exactly-one-message-and-when-a-call-is-paid-twice"),
    ("Staying under the provider's rate", "staying-under-the-providers-rate"),
    ("Searchable PDF, Markdown, hOCR", "searchable-pdf-markdown-hocr"),
    ("Which client, and why: confluent-kafka", "which-client-and-why-confluent-kafka"),
    ("`ocrflow backfill`", "ocrflow-backfill"),
    ("API × region", "api--region"),
    ("Kafka (Huawei DMS for Kafka, Amazon MSK)", "kafka-huawei-dms-for-kafka-amazon-msk"),
    ("`OCR_MAX_ATTEMPTS`", "ocr_max_attempts"),
])
def test_anchors_are_named_as_github_names_them(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug
    assert anchors(f"# {heading}\n\n## {heading}\n") == {slug, f"{slug}-1"}


def test_the_readme_is_a_front_door_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    commands = re.findall(r"^(make \w+)\s", readme, re.M)
    assert {"make run", "make test"} <= set(commands)
    # CI runs exactly the command the README gives for the tests
    ci = [line for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
          if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]
