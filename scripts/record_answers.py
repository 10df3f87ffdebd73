"""Writes the emulator's recorded answers for the APIs it does not recognize for real.

Each answer has the shape of the API's result model in the official SDK
(``huaweicloudsdkocr``, the pinned test dependency) with placeholder values ("xxx", 0), the
way the API reference publishes its examples; the emulator marks them with
``X-Emulator-Recorded: true``. Answers copied from the API reference by hand are kept.

    .venv/bin/python scripts/record_answers.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from ocrflow.emulator.models import RECORDED, TEXT_APIS  # noqa: E402
from ocrflow.provider import catalogue  # noqa: E402
from tests.contract.official import official_apis, result_skeleton, version  # noqa: E402

#: answers taken from the API reference's examples, not generated
HAND_MADE = {"id-card", "invoice-verification", "auto-classification"}


def auto_classification() -> dict[str, object]:
    # two documents on the page, one recognized: the service bills one unit
    recognized = {"status": {"error_code": "AIS.0000", "error_msg": "Success"},
                  "type": "id_card", "content": result_skeleton("id-card"),
                  "location": [[0, 0], [100, 0], [100, 60], [0, 60]], "seal_mark": False}
    unrecognized = {"status": {"error_code": "AIS.0104", "error_msg": "recognition failed"},
                    "type": "xxx", "content": {},
                    "location": [[120, 0], [220, 0], [220, 60], [120, 60]], "seal_mark": False}
    return {"source": f"shape of AutoClassificationResult in huaweicloudsdkocr {version()}; "
                      "placeholder values; one recognised and one unrecognised document",
            "result": [recognized, unrecognized]}


def main() -> None:
    cat = catalogue.load()
    official = official_apis()
    written = 0
    for api, limits in sorted(cat.apis.items()):
        if api in TEXT_APIS or limits.withdrawn is not None or api not in official:
            continue
        path = RECORDED / f"{api}.json"
        if api == "auto-classification":
            doc = auto_classification()
        elif api in HAND_MADE and path.exists():
            continue
        else:
            doc = {"source": f"shape of {official[api].response.__name__}.result in "
                             f"huaweicloudsdkocr {version()}; placeholder values",
                   "result": result_skeleton(api)}
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written += 1
    print(f"{written} recorded answers in {RECORDED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
