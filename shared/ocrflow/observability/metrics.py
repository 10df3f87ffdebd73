"""Usage metrics, as CloudWatch Embedded Metric Format (EMF) lines or Cloud Eye custom metrics.

Per API and region: ``OcrCallsTotal``, ``OcrCallsSuccess``, ``OcrCallsFailed`` (each HTTP
attempt that reached the service is one call, as the provider counts them; success = a 2xx
answer) and ``OcrCallDuration`` (milliseconds). ``OcrBilledUnits`` counts what the provider
bills: one unit per 2xx answer, except for APIs billed per recognized document
(auto-classification: each document it recognizes on the page).

They are written when an invocation ends, after its records were published, as
``OCR_METRICS`` says:

* ``emf``: one EMF document per (api, region) on stderr (CloudWatch reads them on Lambda);
* ``ces``: one signed ``POST {CES_ENDPOINT}/V1.0/{project_id}/metric-data`` carrying every
  (api, region) pair (Cloud Eye "Adding Monitoring Data",
  https://support.huaweicloud.com/intl/en-us/api-ces/en-us_topic_0032831274.html). Cloud Eye
  being slow or refusing never fails a record: the request is bounded in time, and a failure
  is one warning line that carries the counts, so nothing is lost from the logs;
* ``none``: nothing.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import requests

    from ..core.signer import Credentials

MetricsMode = Literal["emf", "ces", "none"]
DEFAULT_CES_ENDPOINT = "https://ces.{region}.myhuaweicloud.com"
DEFAULT_CES_NAMESPACE = "OCRFLOW.OCR"
#: Cloud Eye keeps a data point at most this long (``ttl`` in [1, 604800] s, official
#: ``huaweicloudsdkces`` model ``CreateMetricDataRequestBody``).
CES_TTL_S = 604800
#: Connect and read timeouts of the one Cloud Eye request of an invocation: its records are
#: already published, and a slow Cloud Eye must not hold the function much longer.
CES_TIMEOUT_S = (1.0, 2.0)
#: ``service.item``, each part a letter then letters, digits or ``_``, 3 to 32 characters
#: (``MetricInfo.namespace`` of the official model); ``SYS``, ``AGT`` and ``SRE`` are
#: Cloud Eye's own prefixes.
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}\.[A-Za-z][A-Za-z0-9_]{2,31}$")
_RESERVED_PREFIXES = ("SYS", "AGT", "SRE")


def namespace_problem(namespace: str) -> str | None:
    """Why Cloud Eye would refuse ``namespace`` as a custom namespace, or None."""
    if not _NAMESPACE.match(namespace):
        return ("expected service.item, each part 3 to 32 letters, digits or '_' starting "
                "with a letter, such as OCRFLOW.OCR")
    if namespace.upper().startswith(_RESERVED_PREFIXES):
        return "SYS, AGT and SRE begin Cloud Eye's own namespaces; choose another service name"
    return None


@dataclass
class CallStats:
    total: int = 0
    success: int = 0
    failed: int = 0
    billed: int = 0
    durations_ms: list[float] = field(default_factory=list)

    @property
    def mean_ms(self) -> float | None:
        if not self.durations_ms:
            return None
        return round(sum(self.durations_ms) / len(self.durations_ms), 2)

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "success": self.success,
                               "failed": self.failed, "billed": self.billed}
        if self.mean_ms is not None:
            out["duration_ms"] = self.mean_ms
        return out


Pairs = list[tuple[tuple[str, str], CallStats]]


class CloudEye:
    """Sends an invocation's counts to Cloud Eye as custom metrics: one request, every
    (api, region) pair, signed like the OCR calls (the agency's temporary keys on
    FunctionGraph), on the OCR client's HTTP session."""

    def __init__(self, endpoint: str, namespace: str,
                 session: Callable[[], requests.Session],
                 proxies: Callable[[str], dict[str, str]] | None = None,
                 iam_token: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.namespace = namespace
        self._session = session
        self._proxies = proxies
        self._iam_token = iam_token

    def url(self, project_id: str) -> str:
        return f"{self.endpoint}/V1.0/{project_id}/metric-data"

    def body(self, pairs: Pairs, now_ms: int | None = None) -> list[dict[str, Any]]:
        """The request body: a list of ``CreateMetricDataRequestBody`` objects."""
        at = int(time.time() * 1000) if now_ms is None else now_ms
        items: list[dict[str, Any]] = []

        def point(api: str, region: str, name: str, value: float, unit: str,
                  kind: str) -> dict[str, Any]:
            return {"metric": {"namespace": self.namespace, "metric_name": name,
                               "dimensions": [{"name": "api", "value": api},
                                              {"name": "region", "value": region}]},
                    "ttl": CES_TTL_S, "collect_time": at, "value": value, "unit": unit,
                    "type": kind}

        for (api, region), s in pairs:
            items += [point(api, region, "OcrCallsTotal", s.total, "Count", "int"),
                      point(api, region, "OcrCallsSuccess", s.success, "Count", "int"),
                      point(api, region, "OcrCallsFailed", s.failed, "Count", "int"),
                      point(api, region, "OcrBilledUnits", s.billed, "Count", "int")]
            if s.mean_ms is not None:
                items.append(point(api, region, "OcrCallDuration", s.mean_ms, "ms", "float"))
        return items

    def send(self, points: list[dict[str, Any]], credentials: Credentials | None,
             project_id: str | None) -> str | None:
        """Posts ``points`` (:meth:`body`); returns None when Cloud Eye took them, else why
        not. Never raises: whatever goes wrong here, the invocation's records are done."""
        if not points:
            return None
        if not project_id:
            return "no project id (RUNTIME_PROJECT_ID on FunctionGraph, else OCR_PROJECT_ID)"
        if credentials is None and not self._iam_token:
            return "no credentials (give the function an agency, or set AK/SK)"
        try:
            from ..core.signer import sign

            url = self.url(project_id)
            payload = json.dumps(points, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json;charset=utf8"}
            if credentials is not None:
                headers = sign("POST", url, headers, payload, credentials)
            else:
                headers["X-Auth-Token"] = self._iam_token or ""
            response = self._session().post(
                url, data=payload, headers=headers, timeout=CES_TIMEOUT_S,
                proxies=self._proxies(url) if self._proxies else None, allow_redirects=False)
            if 200 <= response.status_code < 300:
                return None
            return _ces_refusal(response)
        except Exception as exc:  # noqa: BLE001 - a metrics sink must not fail the invocation
            from ..core.redact import exception

            return f"{type(exc).__name__}: {exception(exc)[:200]}"


def _ces_refusal(response: requests.Response) -> str:
    from ..core.redact import text

    code = None
    try:
        answer = response.json()
        if isinstance(answer, dict):
            nested = answer.get("error")
            detail: dict[str, Any] = nested if isinstance(nested, dict) else answer
            code = detail.get("code") or detail.get("error_code")
    except ValueError:
        pass
    return text(f"HTTP {response.status_code}" + (f" {code}" if code else ""))[:200]


class Metrics:
    MAX_VALUES = 100  # EMF allows 100 values per metric per document

    def __init__(self, namespace: str, service: str, stream: IO[str] | None = None,
                 mode: MetricsMode = "emf", cloud_eye: CloudEye | None = None) -> None:
        self.namespace = namespace
        self.service = service
        self.stream = stream
        self.mode = mode
        self.cloud_eye = cloud_eye
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

    def _take(self) -> Pairs:
        with self._lock:
            pairs = list(self._stats.items())
            self._stats.clear()
        return pairs

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._stats.items())
        return self._documents(items)

    def _documents(self, items: Pairs) -> list[dict[str, Any]]:
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

    def flush(self, credentials: Credentials | None = None,
              project_id: str | None = None) -> list[dict[str, Any]]:
        """Writes what was counted since the last flush the way ``mode`` says, and starts
        afresh; returns the EMF documents or the Cloud Eye data points written."""
        pairs = self._take()
        if self.mode == "none" or not pairs:
            return []
        if self.mode == "ces" and self.cloud_eye is not None:
            points = self.cloud_eye.body(pairs)
            problem = self.cloud_eye.send(points, credentials, project_id)
            if problem is not None:
                from .log import get_logger

                get_logger().warning(
                    "metrics not sent to Cloud Eye", reason=problem,
                    metrics={api: {region: s.counts()} for (api, region), s in pairs})
            return points
        docs = self._documents(pairs)
        stream = self.stream or sys.stderr
        for doc in docs:
            stream.write(json.dumps(doc, separators=(",", ":")) + "\n")
        stream.flush()
        return docs
