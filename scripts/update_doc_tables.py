"""Rewrites the generated tables of the docs from the code's data: the OCRFLOW codes
(``ocrflow.core.errors``) in docs/errors.md and the API × region table
(``ocrflow.provider.catalogue``) in docs/configuration.md. A test checks that the pages match,
so run this after changing either."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from ocrflow.core.errors import codes_markdown  # noqa: E402
from ocrflow.provider.catalogue import regions_markdown  # noqa: E402

#: each generated block: the page that holds it, and what makes it
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "codes": ("docs/errors.md", codes_markdown),
    "regions": ("docs/configuration.md", regions_markdown),
}


def render(page: str, name: str, make: Callable[[], str]) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
    if not pattern.search(page):
        raise SystemExit(f"{BLOCKS[name][0]} has no <!-- {name}:start --> … <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), page)


def main() -> None:
    for name, (page, make) in BLOCKS.items():
        path = ROOT / page
        path.write_text(render(path.read_text("utf-8"), name, make), "utf-8")


if __name__ == "__main__":
    main()
