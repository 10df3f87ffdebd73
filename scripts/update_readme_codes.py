"""Rewrites the README's table of OCRFLOW codes from ocrflow.core.errors (the one source)."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))
from ocrflow.core.errors import codes_markdown  # noqa: E402

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text("utf-8")
text = re.sub(r"(<!-- codes:start -->\n).*?(\n<!-- codes:end -->)",
              lambda m: m.group(1) + codes_markdown() + m.group(2), text, flags=re.S)
readme.write_text(text, "utf-8")
