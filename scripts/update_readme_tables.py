"""Rewrites the README's generated tables from the code's data: the OCRFLOW codes
(``ocrflow.core.errors``) and the API × region table (``ocrflow.provider.catalogue``). A test checks that
the README matches, so run this after changing either."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from ocrflow.core.errors import codes_markdown  # noqa: E402
from ocrflow.provider.catalogue import regions_markdown  # noqa: E402

BLOCKS = {"codes": codes_markdown, "regions": regions_markdown}


def render(readme: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- {name}:start --> … <!-- {name}:end --> block")
        readme = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), readme)  # type: ignore[misc]
    return readme


def main() -> None:
    path = ROOT / "README.md"
    path.write_text(render(path.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
