"""A pipeline wired to real local backends (folder store, sqlite queues and idempotency)
and an OCR endpoint, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.config.settings import Settings, load_settings
from ocrflow.handler import handle
from ocrflow.runtime import Runtime, build_runtime


@dataclass
class Harness:
    root: Path
    settings: Settings
    rt: Runtime

    def put(self, bucket: str, key: str, data: bytes) -> Path:
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def invoke(self, event: Any, context: Any = None) -> dict[str, Any]:
        return handle(event, context, rt=self.rt)

    def results(self) -> list[dict[str, Any]]:
        return list(self.rt.queue("result").dump())

    def failures(self) -> list[dict[str, Any]]:
        return list(self.rt.queue("failure").dump())

    def close(self) -> None:
        self.rt.close()


def run_env(tmp: Path, endpoint: str, **env: str) -> dict[str, str]:
    """The environment of a test run: a folder store under ``tmp/buckets`` (made here), its
    own state folder, test credentials, ``endpoint`` as the OCR endpoint."""
    root = tmp / "buckets"
    root.mkdir(parents=True, exist_ok=True)
    base = {
        "OBJECT_STORE_URL": root.as_uri(),
        "OCR_ENDPOINT": endpoint,
        "OCR_PROJECT_ID": "0123456789abcdef0123456789abcdef",
        "HUAWEICLOUD_SDK_AK": "TESTAK0000000000",
        "HUAWEICLOUD_SDK_SK": "test-secret-key-0000000000000000",
        "OCRFLOW_STATE_DIR": str(tmp / "state"),
        "OCR_MAX_ATTEMPTS": "3",
        "OCR_MAX_DELIVERIES": "3",
        "OCR_READ_TIMEOUT_S": "5",
    }
    base.update(env)
    return base


def make_harness(tmp: Path, endpoint: str, **env: str) -> Harness:
    settings = load_settings(run_env(tmp, endpoint, **env))
    return Harness(tmp / "buckets", settings, build_runtime(settings))
