"""The OCR client: one reused ``requests`` session, AK/SK signing or an IAM token,
connect/read timeouts, and the attempts of one call as the retry policy
(:mod:`ocrflow.core.retry`) decides them.

With ``OCR_MAX_CALLS_PER_SECOND`` set, every attempt first waits for a slot of the
fleet-wide rate (the limiter the runtime builds, :mod:`ocrflow.adapters.ratelimit`), and a
throttle answer lowers that rate for the whole fleet; when no slot comes before the deadline,
the call ends in ``OCRFLOW.RATE_LIMITED`` (nothing billed).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from ..adapters.httpsession import new_session, proxies_for
from ..core import redact, retry
from ..core.errors import Failure, ocrflow_failure
from ..core.signer import Credentials, sign
from . import catalogue
from .usage import Usage, billed_units

if TYPE_CHECKING:
    import requests

    from ..adapters.ratelimit.limiter import RateLimiter, Slot
    from ..observability.metrics import Metrics

#: Slots a call may give up for being sent too late (ratelimit.limiter.LATE_S) before it is
#: sent late all the same: a process that is always that slow still gets its calls out.
MAX_MISSED_SLOTS = 3
CONTENT_TYPE = "application/json;charset=utf8"


def retry_after_s(code: str) -> int | None:
    """The wait the provider's error table advises before retrying ``code``, if it names one."""
    known = catalogue.load().provider_codes.get(code)
    return known.retry_after_s if known is not None else None


def is_retryable(status: int, code: str | None) -> bool:
    """Whether a provider answer is worth another attempt now (:func:`ocrflow.core.retry.is_retryable`
    with the wait the catalogue advises for ``code``)."""
    return retry.is_retryable(status, code, retry_after_s(code) if code is not None else None)


class ClientSettings(Protocol):
    """What the client reads of the configuration (:class:`ocrflow.config.Settings` has it)."""

    iam_token: str | None
    max_attempts: int
    max_concurrency: int
    connect_timeout_s: float
    read_timeout_s: float

    def endpoint_for(self, region: str) -> str: ...

    def project_for(self, region: str) -> str | None: ...


@dataclass
class CallResult:
    result: Any = None
    failure: Failure | None = None
    request_id: str | None = None
    attempts: int = 0
    duration_ms: int = 0
    #: attempts whose answer never came (timeouts): they may have been billed
    unanswered: int = 0
    #: attempts that reached the provider, and the units it billed for them: counted where
    #: the metrics count them (``OcrCallsTotal``, ``OcrBilledUnits``)
    calls: int = 0
    billed_units: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def usage(self) -> Usage:
        return Usage(self.billed_units, self.calls)


def wrap_base64(field: str, encoded: bytes, options: dict[str, Any]) -> bytes:
    """``{"image": "<base64>", ...options}`` around already base64-encoded bytes, built
    without running the large text through the JSON encoder (base64 needs no escaping) and
    with one copy; the caller drops the file before this, so the two never coexist."""
    prefix = b"{" + json.dumps(field).encode() + b':"'
    rest = json.dumps(options, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    tail = b'"}' if rest == b"{}" else b'",' + rest[1:]
    return b"".join((prefix, encoded, tail))


class OcrClient:
    def __init__(self, settings: ClientSettings, metrics: Metrics | None = None,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        #: the fleet-wide rate limiter (``OCR_MAX_CALLS_PER_SECOND``), built by the runtime
        self.limiter = limiter
        self.metrics = metrics
        self._session = session
        self._session_lock = threading.Lock()
        self._proxies: dict[str, dict[str, str]] = {}
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._auth_lock = threading.Lock()
        self._auth_failures = 0
        self._auth_locked_until = 0.0
        self._last_auth_failure: Failure | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    self._session = new_session(max(10, self.settings.max_concurrency))
        return self._session

    def close(self) -> None:
        if self.limiter is not None:
            self.limiter.close()

    def proxies_for(self, url: str) -> dict[str, str]:
        """HTTP(S)_PROXY / NO_PROXY from the environment for this endpoint, looked up once."""
        return proxies_for(self._proxies, url)

    def url_for(self, api: str, region: str, project_id: str) -> str:
        return f"{self.settings.endpoint_for(region)}/v2/{project_id}/ocr/{api}"

    def call(self, api: str, region: str, body: bytes, deadline: float,
             credentials: Credentials | None) -> CallResult:
        """Posts ``body`` to ``api`` in ``region`` with retries until ``deadline``
        (a ``time.monotonic()`` value)."""
        started = time.monotonic()
        outcome = CallResult()
        project_id = self.settings.project_for(region)
        if not project_id:
            outcome.failure = ocrflow_failure(
                "OCRFLOW.CONFIG_INVALID",
                f"no project id for region {region}: set OCR_PROJECT_ID (or OCR_PROJECT_IDS)")
            return outcome
        if credentials is None and not self.settings.iam_token:
            outcome.failure = ocrflow_failure(
                "OCRFLOW.CONFIG_INVALID",
                "no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or OCR_IAM_TOKEN")
            return outcome
        locked = self._auth_lockout()
        if locked is not None:
            outcome.failure = locked
            return outcome
        if credentials is not None:  # FunctionGraph's temporary keys are first seen here
            redact.register(credentials.ak, credentials.sk, credentials.security_token)

        url = self.url_for(api, region, project_id)
        attempt = missed = 0
        while True:
            slot = self._slot(api, region, deadline)
            if slot is not None and not slot.granted:
                outcome.failure = ocrflow_failure(
                    "OCRFLOW.RATE_LIMITED", f"no call slot for {api} in {region} under "
                    "OCR_MAX_CALLS_PER_SECOND before the deadline")
                break
            try:
                failure, retryable = self._attempt(
                    api, region, url, project_id, body, deadline, credentials, outcome,
                    slot if missed < MAX_MISSED_SLOTS else None)
            except _SlotMissed:
                missed += 1
                continue
            attempt += 1
            outcome.attempts = attempt
            if failure is None:
                outcome.failure = None  # an earlier attempt's failure no longer counts
                break
            outcome.failure = failure
            throttled = retry.is_throttle(failure)
            if throttled and slot is not None and self.limiter is not None:
                self._lower_rate(api, region, slot)
            if not retryable or attempt >= self.settings.max_attempts:
                break
            if throttled and slot is not None and slot.reservation is not None:
                continue  # the next slot, at the lowered rate, is the pause
            pause = self._backoff(attempt)
            # another attempt only if it can still finish before the deadline
            if time.monotonic() + pause + self.settings.connect_timeout_s + 1.0 > deadline:
                break
            self._sleep(pause)
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def _slot(self, api: str, region: str, deadline: float) -> Slot | None:
        """Waits for a slot of the fleet-wide rate (None when no limit is configured)."""
        if self.limiter is None:
            return None
        # the call itself must still fit before the deadline, as for a retry below
        return self.limiter.acquire(api, region, deadline, self.settings.connect_timeout_s + 1.0)

    def _lower_rate(self, api: str, region: str, slot: Slot) -> None:
        assert self.limiter is not None
        rate = self.limiter.throttled(api, region, slot)
        if rate is not None:
            from ..observability.log import get_logger

            get_logger().warning("throttled by the provider: fleet-wide rate lowered", api=api,
                                 region=region, calls_per_second=round(rate, 2),
                                 ceiling=self.limiter.limits.ceiling(api))

    def _backoff(self, attempt: int) -> float:
        return retry.backoff(attempt, self._rng)

    def _headers(self, url: str, project_id: str, body: bytes,
                 credentials: Credentials | None) -> dict[str, str]:
        headers = {"Content-Type": CONTENT_TYPE, "X-Project-Id": project_id}
        if credentials is not None:
            return sign("POST", url, headers, body, credentials)
        headers["X-Auth-Token"] = self.settings.iam_token or ""
        return headers

    def _attempt(self, api: str, region: str, url: str, project_id: str, body: bytes,
                 deadline: float, credentials: Credentials | None,
                 outcome: CallResult, slot: Slot | None = None) -> tuple[Failure | None, bool]:
        """One POST. Raises _SlotMissed instead when ``slot`` (a fleet-wide slot that may
        still be given up) has passed too long ago to be used."""
        import requests

        remaining = deadline - time.monotonic()
        if remaining <= 0.5:
            return ocrflow_failure("OCRFLOW.TIMEOUT", "no time left before the deadline"), False
        timeout = (self.settings.connect_timeout_s, min(self.settings.read_timeout_s, remaining))
        headers = self._headers(url, project_id, body, credentials)
        if slot is not None and self.limiter is not None and self.limiter.missed(slot):
            raise _SlotMissed
        t0 = time.monotonic()
        try:
            # never redirected: the signed request and the file go to the endpoint or nowhere
            response = self.session.post(url, data=body, headers=headers, timeout=timeout,
                                         proxies=self.proxies_for(url), allow_redirects=False)
        except requests.exceptions.ConnectTimeout:
            return ocrflow_failure("OCRFLOW.TRANSPORT", f"could not connect to the {region} "
                                   "endpoint in time"), True
        except requests.exceptions.Timeout:
            outcome.unanswered += 1
            self._record(api, region, False, t0, outcome)
            return ocrflow_failure("OCRFLOW.TIMEOUT", f"no answer within {timeout[1]:.1f} s "
                                   "(the call may still have been billed)"), True
        except requests.exceptions.ConnectionError as exc:
            if _request_was_sent(exc):
                self._record(api, region, False, t0, outcome)
            return ocrflow_failure("OCRFLOW.TRANSPORT",
                                   f"connection to the {region} endpoint failed "
                                   f"({type(_root_cause(exc)).__name__})"), True
        except requests.exceptions.RequestException as exc:
            return ocrflow_failure("OCRFLOW.TRANSPORT", f"request failed ({type(exc).__name__})"), True

        outcome.request_id = response.headers.get("X-Request-Id") or outcome.request_id
        status = response.status_code
        self._record(api, region, 200 <= status < 300, t0, outcome)
        if 300 <= status < 400:
            response.close()
            failure = ocrflow_failure("OCRFLOW.REDIRECTED",
                                      f"the {region} endpoint answered HTTP {status} (a redirect); "
                                      "it is not followed")
            failure.http_status = status
            return failure, False
        payload = _json_or_none(response)
        if 200 <= status < 300:
            if isinstance(payload, dict) and "result" in payload and "error_code" not in payload:
                self._auth_ok()
                outcome.result = payload["result"]
                units = billed_units(api, outcome.result)
                outcome.billed_units += units
                if self.metrics is not None:
                    self.metrics.record_billed(api, region, units)
                return None, False
            if isinstance(payload, dict) and "error_code" in payload:
                return _provider_failure(status, payload), False
            return ocrflow_failure("OCRFLOW.BAD_RESPONSE",
                                   f"{status} answer without a result object"), True
        if isinstance(payload, dict) and isinstance(payload.get("error_code"), str):
            failure = _provider_failure(status, payload)
            hint = catalogue.load().explain_provider_refusal(failure.code, api, region)
            if hint:
                failure.message = f"{failure.message} ({hint})" if failure.message else hint
        else:
            failure = ocrflow_failure("OCRFLOW.BAD_RESPONSE",
                                      f"HTTP {status} without the service's error body")
            failure.http_status = status
        now = is_retryable(status, failure.code if failure.source == "provider" else None)
        failure.retryable = retry.retryable(now, failure.retry_after)
        if status in retry.AUTH_STATUSES:
            self._auth_failed(failure)
        return failure, now

    def _record(self, api: str, region: str, success: bool, t0: float,
                outcome: CallResult) -> None:
        """One attempt that reached the provider: in the upload's usage and the metrics alike."""
        outcome.calls += 1
        if self.metrics is not None:
            self.metrics.record_call(api, region, success, (time.monotonic() - t0) * 1000)

    # --- the 401 guard ------------------------------------------------------------------
    def _auth_lockout(self) -> Failure | None:
        with self._auth_lock:
            if self._auth_failures >= retry.AUTH_FAILURE_STOP and time.monotonic() < self._auth_locked_until:
                last = self._last_auth_failure
                return Failure(
                    code=last.code if last else "APIG.0301",
                    message=f"not sent: {self._auth_failures} authentication failures in a row "
                            "(the gateway locks the caller out after five); fix the credentials",
                    source="provider", http_status=401, retryable=False)
            return None

    def _auth_failed(self, failure: Failure) -> None:
        with self._auth_lock:
            self._auth_failures += 1
            self._last_auth_failure = failure
            if self._auth_failures >= retry.AUTH_FAILURE_STOP:
                self._auth_locked_until = time.monotonic() + retry.AUTH_LOCKOUT_S

    def _auth_ok(self) -> None:
        if self._auth_failures:
            with self._auth_lock:
                self._auth_failures = 0


class _SlotMissed(Exception):
    """The call's fleet-wide slot passed before it could be sent: it takes another."""


def _provider_failure(status: int, payload: dict[str, Any]) -> Failure:
    code = str(payload.get("error_code"))
    message = str(payload.get("error_msg", ""))[:500]
    wait = retry_after_s(code)
    after = None
    if wait is not None:
        when = datetime.now(timezone.utc) + timedelta(seconds=wait)
        after = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return Failure(code=code, message=message, source="provider", http_status=status,
                   retryable=retry.retryable(is_retryable(status, code), after), retry_after=after)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        if nxt is None or nxt is seen:
            return seen
        if hasattr(nxt, "reason") and isinstance(nxt.reason, BaseException):
            return nxt.reason
        seen = nxt


def _request_was_sent(exc: BaseException) -> bool:
    """A refused connection never reached the service (nothing to count or bill); a
    dropped one did."""
    from urllib3.exceptions import NewConnectionError

    node: Any = exc
    for _ in range(6):
        if isinstance(node, NewConnectionError):
            return False
        reason = getattr(node, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else (
            node.args[0] if getattr(node, "args", None) and isinstance(node.args[0], BaseException)
            else node.__cause__ or node.__context__)
        if nxt is None:
            break
        node = nxt
    return True
