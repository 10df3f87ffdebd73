"""The retry policy: every rule of the product that decides whether something is tried again,
and when. Decided by HTTP status and code together, never by message text.

One call to the OCR API (attempts within one delivery, at most ``OCR_MAX_ATTEMPTS``):

* tried again now, with backoff and jitter (:func:`backoff`): 429 / ``APIG.0308``,
  ``ModelArts.4401``, any 5xx, transport errors and timeouts. ``APIG.0201`` by its status:
  the gateway gives it as 504 "backend timeout" and 502 (tried again) but also as 400 "API
  request error" and 413 "request entity too large" (not: the same request would get the same
  answer); the catalogue keeps each status's meaning with its source page;
* not now, but ``retryable`` with ``retry_after``: a code whose error table advises a wait
  (``AIS.0118``, the tax authority's interface timed out: after 2 hours) — an attempt before
  then meets the same answer;
* never: input errors (``AIS.*``), ``ModelArts.4204`` (package not in this region), other
  account/permission codes, URL-input codes and 401s; after :data:`AUTH_FAILURE_STOP` 401s in
  a row calls stop for :data:`AUTH_LOCKOUT_S` (the gateway locks the caller out at five).

Throttling (:func:`is_throttle`) costs nothing, so a record throttled on every attempt goes
back to the queue unpublished; ``OCR_MAX_DELIVERIES`` bounds how often
(:mod:`ocrflow.flow.quota`).

``error.retryable`` in a failure message has one meaning, for provider codes and ocrflow's
alike: trying the same upload again later, unchanged, may succeed (a redrive; from
``retry_after`` on when it is given). False: it fails the same way until the file, the
configuration or the account changes. :func:`retryable` decides it for a provider answer;
each ``OCRFLOW.*`` code carries it in :data:`ocrflow.core.errors.OCRFLOW_CODES`.

Calls to AWS through boto3 (S3, SQS, SNS, DynamoDB, Secrets Manager) are retried by botocore
itself, in its ``standard`` mode: :data:`AWS_SDK_RETRIES`.
"""

from __future__ import annotations

import random

from .errors import Failure

#: Tried again at whatever status they come with (the rest is decided by the status alone).
RETRYABLE_CODES = frozenset({"APIG.0308", "ModelArts.4401"})
#: Answers that mean "slower, please": nothing billed; they lower the fleet-wide rate.
THROTTLE_CODES = frozenset({"APIG.0308", "ModelArts.4401"})
AUTH_STATUSES = frozenset({401})
#: After this many 401s in a row, stop calling (the gateway locks out at five).
AUTH_FAILURE_STOP = 3
AUTH_LOCKOUT_S = 300.0
#: botocore's retries for every AWS client (``botocore.config.Config(retries=...)``).
AWS_SDK_RETRIES = {"max_attempts": 3, "mode": "standard"}


def is_throttle(failure: Failure) -> bool:
    """A failure that is throttling (the provider's, or no slot of the fleet-wide rate in
    time): nothing was billed, and a later delivery may well get through."""
    if failure.source == "provider":
        return failure.code in THROTTLE_CODES
    return failure.code == "OCRFLOW.RATE_LIMITED"


def is_retryable(status: int, code: str | None, advised_wait_s: int | None = None) -> bool:
    """Whether an answer is worth another attempt now. ``advised_wait_s``: the wait the
    provider's error table names for ``code`` (the catalogue's), if any."""
    if advised_wait_s is not None:
        return False  # the provider says when: an attempt before then meets the same answer
    if code in RETRYABLE_CODES:
        return True
    return status == 429 or status >= 500


def retryable(now: bool, retry_after: str | None) -> bool:
    """``error.retryable`` of a failure: worth another attempt now (which did not succeed
    within the call), or later, from ``retry_after`` on."""
    return now or retry_after is not None


def backoff(attempt: int, rng: random.Random) -> float:
    """The pause after the ``attempt``-th failed attempt: "full jitter", uniform in
    [cap/4, cap] with cap = min(5 s, 0.25 s · 2^(attempt-1))."""
    cap = min(5.0, 0.25 * 2 ** (attempt - 1))
    return rng.uniform(cap / 4, cap)
