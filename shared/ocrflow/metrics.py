"""Usage metrics in CloudWatch Embedded Metric Format (EMF).

Per API and region: ``OcrCallsTotal``, ``OcrCallsSuccess``, ``OcrCallsFailed`` (each HTTP
attempt that reached the service is one call, as the provider counts them; success = a 2xx
answer, which is what is billed) and ``OcrCallDuration`` (milliseconds). One EMF document
per (api, region) is written when an invocation ends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any


@dataclass
class CallStats:
    total: int = 0
    success: int = 0
    failed: int = 0
    durations_ms: list[float] = field(default_factory=list)


class Metrics:
    MAX_VALUES = 100  # EMF allows 100 values per metric per document

    def __init__(self, namespace: str, service: str, stream: IO[str] | None = None) -> None:
        self.namespace = namespace
        self.service = service
        self.stream = stream
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str], CallStats] = {}

    def record_call(self, api: str, region: str, success: bool, duration_ms: float) -> None:
        with self._lock:
            stats = self._stats.setdefault((api, region), CallStats())
            stats.total += 1
            if success:
                stats.success += 1
            else:
                stats.failed += 1
            stats.durations_ms.append(round(duration_ms, 2))

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{api: {region: {"total", "success", "failed"}}}`` of what is not flushed yet."""
        with self._lock:
            out: dict[str, dict[str, dict[str, int]]] = {}
            for (api, region), s in self._stats.items():
                out.setdefault(api, {})[region] = {"total": s.total, "success": s.success,
                                                   "failed": s.failed}
            return out

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._stats.items())
        now = int(time.time() * 1000)
        docs = []
        for (api, region), s in items:
            durations = s.durations_ms
            for start in range(0, max(1, len(durations)), self.MAX_VALUES):
                first = start == 0
                docs.append({
                    "_aws": {
                        "Timestamp": now,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [["service", "api", "region"]],
                            "Metrics": ([{"Name": "OcrCallsTotal", "Unit": "Count"},
                                         {"Name": "OcrCallsSuccess", "Unit": "Count"},
                                         {"Name": "OcrCallsFailed", "Unit": "Count"}] if first else [])
                            + [{"Name": "OcrCallDuration", "Unit": "Milliseconds"}],
                        }],
                    },
                    "service": self.service,
                    "api": api,
                    "region": region,
                    **({"OcrCallsTotal": s.total, "OcrCallsSuccess": s.success,
                        "OcrCallsFailed": s.failed} if first else {}),
                    "OcrCallDuration": durations[start:start + self.MAX_VALUES],
                })
        return docs

    def flush(self) -> list[dict[str, Any]]:
        """Writes the EMF documents (one JSON line each) and starts afresh."""
        docs = self.documents()
        with self._lock:
            self._stats.clear()
        stream = self.stream or sys.stderr
        for doc in docs:
            stream.write(json.dumps(doc, separators=(",", ":")) + "\n")
        stream.flush()
        return docs
