"""What a cold start pays for: importing the handler loads no adapter, HTTP client or cloud
SDK (they load on first use), and configuration is read on the first invocation, not at
import (so a bad variable is reported by the invocation, with its name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["requests", "urllib3", "boto3", "botocore", "pika", "redis", "confluent_kafka", "sqlite3",
         "ocrflow.adapters.stores.s3", "ocrflow.adapters.stores.obs", "ocrflow.adapters.queues.sqs",
         "ocrflow.adapters.queues.amqp", "ocrflow.adapters.queues.kafka",
         "ocrflow.emulator", "PIL", "rapidocr_onnxruntime", "pypdf", "pillow_heif", "pypdfium2"]


def test_importing_the_handler_loads_no_adapter_client_or_sdk() -> None:
    code = ("import sys, json; import handler; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), "OCR_REGION": "not-a-region"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions" / "recognize", env=env,
                         capture_output=True, text=True, check=True)
    # an invalid OCR_REGION did not fail the import: configuration is read on first use
    assert json.loads(out.stdout) == []
