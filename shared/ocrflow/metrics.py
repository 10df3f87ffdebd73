"""Usage metrics in CloudWatch Embedded Metric Format (EMF).

Per API and region: ``OcrCallsTotal``, ``OcrCallsSuccess``, ``OcrCallsFailed`` (each HTTP
attempt that reached the service is one call, as the provider counts them; success = a 2xx
answer) and ``OcrCallDuration`` (milliseconds). ``OcrBilledUnits`` counts what the provider
bills: one unit per 2xx answer, except for APIs billed per recognised document
(auto-classification: each document it recognises on the page). One EMF document
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
    billed: int = 0
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

    def record_billed(self, api: str, region: str, units: int) -> None:
        with self._lock:
            self._stats.setdefault((api, region), CallStats()).billed += units

    def billed(self) -> dict[str, dict[str, int]]:
        """``{api: {region: units}}`` billed and not flushed yet."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (api, region), s in self._stats.items():
                out.setdefault(api, {})[region] = s.billed
            return out

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
                                         {"Name": "OcrCallsFailed", "Unit": "Count"},
                                         {"Name": "OcrBilledUnits", "Unit": "Count"}] if first else [])
                            + [{"Name": "OcrCallDuration", "Unit": "Milliseconds"}],
                        }],
                    },
                    "service": self.service,
                    "api": api,
                    "region": region,
                    **({"OcrCallsTotal": s.total, "OcrCallsSuccess": s.success,
                        "OcrCallsFailed": s.failed, "OcrBilledUnits": s.billed} if first else {}),
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


#: per-document statuses that mean "recognised" (the item's own status code)
_RECOGNISED = frozenset({"", "0", "AIS.0000"})


def billed_units(api: str, result: Any) -> int:
    """Units the provider bills for one 2xx answer of ``api``.

    auto-classification answers a list with a status per document and bills each document
    it recognised; every other API bills the answer once."""
    from .catalogue import load

    limits = load().apis.get(api)
    if limits is None or limits.billing != "per_document":
        return 1
    if not isinstance(result, list):
        return 1
    units = 0
    for item in result:
        if not isinstance(item, dict):
            continue
        status = item.get("status")
        code = status.get("error_code") if isinstance(status, dict) else None
        if (code is None or str(code) in _RECOGNISED) and item.get("content") is not None:
            units += 1
    return units
