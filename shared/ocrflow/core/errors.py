"""Error types and the catalogue of ``OCRFLOW.*`` codes.

Every failure that ends a record carries a code. Codes the OCR service returned are kept
verbatim (``AIS.*``, ``ModelArts.*``, ``APIG.*``); codes of our own are listed in
:data:`OCRFLOW_CODES` with what they mean and what the user should do, and the README's
table is checked against this dictionary by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import redact

ErrorSource = Literal["provider", "ocrflow"]


@dataclass(frozen=True)
class CodeInfo:
    meaning: str
    action: str
    #: ``error.retryable``: trying the same upload again later, unchanged, may succeed (the
    #: one meaning for every code, :mod:`ocrflow.core.retry`)
    retryable: bool = False


OCRFLOW_CODES: dict[str, CodeInfo] = {
    "OCRFLOW.EVENT_INVALID": CodeInfo(
        "The trigger event could not be parsed into object references.",
        "Check what sends events to the function; the failure carries a bounded excerpt.",
    ),
    "OCRFLOW.KEY_INVALID": CodeInfo(
        "The object key is empty, longer than 1024 bytes, has control characters or '..' "
        "segments; on the folder store (file://), also a key that is not the canonical path "
        "of a file ('.' or empty segments, a trailing '/').",
        "Rename the object; such keys are refused before anything is read.",
    ),
    "OCRFLOW.BUCKET_INVALID": CodeInfo(
        "The bucket name is not one the object store can address (S3/OBS naming rules; for a "
        "folder store, one folder under its root).",
        "Check what sends events to the function; such names are refused before anything is "
        "read.",
    ),
    "OCRFLOW.OBJECT_NOT_FOUND": CodeInfo(
        "The object (or the version named by the event) no longer exists.",
        "Nothing to do if it was deleted on purpose; otherwise upload it again.",
    ),
    "OCRFLOW.OBJECT_CHANGED": CodeInfo(
        "The object's ETag no longer matches the one in the event: it was overwritten.",
        "The newer upload has its own event; this one is dropped without a call.",
    ),
    "OCRFLOW.OBJECT_READ_FAILED": CodeInfo(
        "The object store refused or failed the read.",
        "Check the function's read permission on the bucket; redrive after fixing it.",
        retryable=True,
    ),
    "OCRFLOW.EMPTY_OBJECT": CodeInfo(
        "The object is empty (0 bytes).",
        "Upload the real file.",
    ),
    "OCRFLOW.FILE_TOO_LARGE": CodeInfo(
        "The file is over the API's size limit (base64 body at most 10 MB, so about 7.5 MB).",
        "Shrink or split the file, or route it to an API that takes a URL.",
    ),
    "OCRFLOW.UNSUPPORTED_FORMAT": CodeInfo(
        "The file's real format (read from its bytes, not its name) is not accepted by "
        "the routed API.",
        "Convert the file, or route this suffix to an API that takes the format.",
    ),
    "OCRFLOW.IMAGE_UNREADABLE": CodeInfo(
        "The file claims an image format but its header is truncated or corrupt, or the "
        "PDF is encrypted.",
        "Re-export the file and upload it again.",
    ),
    "OCRFLOW.IMAGE_DIMENSIONS": CodeInfo(
        "The image's sides or pixel count are outside the routed API's limits.",
        "Resize the image into the API's range (see the catalogue in the README).",
    ),
    "OCRFLOW.DECODE_LIMIT": CodeInfo(
        "The API cannot take the file as it is, and making it fit (decoding the image to "
        "scale or convert it, parsing the PDF to split its pages) would take more memory than "
        "ocrflow gives one record; the message names the limit and the file's figures "
        "(pixels, bytes per pixel, inflated metadata, PDF objects).",
        "Re-export the file smaller (fewer pixels, objects or pages) or split it, then upload "
        "it again.",
    ),
    "OCRFLOW.PDF_UNREADABLE": CodeInfo(
        "A page of the PDF could not be split out (its structure is broken) and the API "
        "cannot read that page from the whole file (too large, or it reads page 1 only).",
        "Re-export or repair the PDF (print it to a new PDF) and upload it again.",
    ),
    "OCRFLOW.PDF_TOO_MANY_PAGES": CodeInfo(
        "The PDF has more pages than OCR_MAX_PDF_PAGES; no page was recognised (each page is "
        "one paid call).",
        "Split the document, or raise OCR_MAX_PDF_PAGES and redrive.",
    ),
    "OCRFLOW.API_NOT_IN_REGION": CodeInfo(
        "The routed API is not listed for the region configured for it in the official "
        "endpoint tables; no call was made.",
        "Set OCR_API_REGIONS for this API to the region where its package was bought (or "
        "OCR_CATALOGUE_CHECK=warn if the tables are behind).",
    ),
    "OCRFLOW.API_WITHDRAWN": CodeInfo(
        "The routed API was withdrawn by the provider (the date is in the message); no call "
        "was made.",
        "Route these files to another API in OCR_ROUTES, then redrive.",
    ),
    "OCRFLOW.UNKNOWN_API": CodeInfo(
        "A route names an API that the catalogue does not know.",
        "Fix OCR_ROUTES.",
    ),
    "OCRFLOW.CONFIG_INVALID": CodeInfo(
        "The configuration cannot make a call (for example no project id or credentials).",
        "Set the variable named in the message and redrive.",
    ),
    "OCRFLOW.BUDGET_EXCEEDED": CodeInfo(
        "OCR_MAX_CALLS_PER_DAY was reached; no call was made.",
        "Raise the budget or wait for the next UTC day, then redrive the failures.",
        retryable=True,
    ),
    "OCRFLOW.INVOICE_TOO_RECENT": CodeInfo(
        "The invoice was issued less than 24 hours ago; the tax system would not know it yet.",
        "Redrive after 24 hours.",
        retryable=True,
    ),
    "OCRFLOW.INVOICE_DAILY_LIMIT": CodeInfo(
        "This invoice was already verified 5 times today, the service's daily limit.",
        "Redrive tomorrow.",
        retryable=True,
    ),
    "OCRFLOW.INVOICE_TOO_OLD": CodeInfo(
        "The invoice was issued more than 5 years ago; the service only verifies newer ones.",
        "Nothing to redrive: such invoices cannot be verified online.",
    ),
    "OCRFLOW.INVOICE_FIELDS": CodeInfo(
        "An invoice-verification upload is not a JSON document with code, number, issue_date "
        "(YYYY-MM-DD) and, as the invoice kind needs, check_code or subtotal_amount.",
        "Upload the invoice's fields as JSON, e.g. the fields of a vat-invoice result.",
    ),
    "OCRFLOW.URL_NOT_ALLOWED": CodeInfo(
        "URL mode would send a URL that is not HTTPS on an allow-listed host (as an HTTP "
        "client reads it), carries credentials or a port not allowed, or names a bucket that is "
        "not a DNS-compatible name.",
        "Add the host to OCR_URL_ALLOWED_HOSTS, or use image mode for such buckets.",
    ),
    "OCRFLOW.TRANSPORT": CodeInfo(
        "The OCR endpoint could not be reached or the connection dropped, on every attempt.",
        "Check network access to the endpoint; redrive once it is reachable.",
        retryable=True,
    ),
    "OCRFLOW.TIMEOUT": CodeInfo(
        "The OCR call did not answer before the deadline, on every attempt. A call that "
        "timed out may still have been billed.",
        "Raise the function timeout or lower OCR_MAX_CONCURRENCY; redrive.",
        retryable=True,
    ),
    "OCRFLOW.REDIRECTED": CodeInfo(
        "The OCR endpoint answered with a redirect (3xx). A signed request and its file are "
        "never sent to another address, and no answer from there is taken as a result.",
        "Point OCR_ENDPOINT at the OCR service itself (the message names the status).",
    ),
    "OCRFLOW.BAD_RESPONSE": CodeInfo(
        "The OCR service answered with something that is not its documented JSON.",
        "Check OCR_ENDPOINT points at the OCR service; redrive.",
        retryable=True,
    ),
    "OCRFLOW.RESULT_STORE_FAILED": CodeInfo(
        "A result too large for the queue could not be stored in the object store.",
        "Check write permission on the bucket for results; redrive.",
        retryable=True,
    ),
    "OCRFLOW.RATE_LIMITED": CodeInfo(
        "No call slot under OCR_MAX_CALLS_PER_SECOND came before the record's deadline. Such "
        "a record (like one the provider throttled on every attempt) is not failed but "
        "redelivered, without a charge; only after OCR_MAX_DELIVERIES throttled deliveries does "
        "it end in this failure (or the provider's APIG.0308).",
        "Raise the account's quota and OCR_MAX_CALLS_PER_SECOND with it, or lower the fleet's "
        "concurrency (MaximumConcurrency, OCR_MAX_CONCURRENCY); redrive.",
        retryable=True,
    ),
    # Outcome codes of records that were not published (in summaries and logs, never in a
    # message): the platform redelivers the record.
    "OCRFLOW.MEMORY_BUSY": CodeInfo(
        "The records of the batch already held as much memory as the function has "
        "(OCR_MEMORY_MB) until the record's deadline, so it was not read; nothing was paid and "
        "the record is redelivered.",
        "Nothing: it runs when the large uploads before it are done. If it recurs, give the "
        "function more memory or send it smaller batches.",
        retryable=True,
    ),
    "OCRFLOW.PAGES_PENDING": CodeInfo(
        "The record's time ran out before every page of the document was called; the pages "
        "answered are saved and the record is redelivered.",
        "Nothing: the next delivery calls only the pages still missing. If it recurs, raise "
        "the function timeout or OCR_MAX_CONCURRENCY.",
        retryable=True,
    ),
    "OCRFLOW.PUBLISH_FAILED": CodeInfo(
        "The queue could not be opened or did not confirm the message; the record is reported "
        "failed and redelivered.",
        "Nothing, if the queue comes back: the stored outcome is published without a new call.",
        retryable=True,
    ),
    "OCRFLOW.IDEMPOTENCY_UNAVAILABLE": CodeInfo(
        "The idempotency store could not be read or written, so the record was not processed.",
        "Check IDEMPOTENCY_STORE_URL and the store's health; the record is redelivered.",
        retryable=True,
    ),
    "OCRFLOW.INTERNAL_ERROR": CodeInfo(
        "An unexpected error in ocrflow itself. The record is redelivered; the "
        "OCR_MAX_DELIVERIES-th delivery to end in such an error publishes this failure (its "
        "message names the exception's type), so the record does not loop until a "
        "dead-letter queue. Likewise when OCR_MAX_DELIVERIES deliveries ended without a word "
        "(the process killed out of memory, a crash, or the function's timeout): the next "
        "one publishes this failure without trying again.",
        "Report it with the log line's exception_name and function_request_id; once fixed, "
        "replay the failures with ocrflow redrive FAILURE_QUEUE_URL --code OCRFLOW.INTERNAL_ERROR.",
        retryable=True,
    ),
}


class OcrflowError(Exception):
    """Base class of every error this package raises on purpose. Its text is redacted
    (:mod:`ocrflow.core.redact`): it reaches logs, stderr and failure messages."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact.text(a) if isinstance(a, str) else a for a in args))


class ConfigError(OcrflowError):
    """A configuration variable is missing or malformed; the message names it."""

    def __init__(self, variable: str, problem: str) -> None:
        problem = redact.text(problem)
        # only the problem is redacted: the variable's own name (OCR_IAM_TOKEN: …) would
        # read as a header and mask the first word after it
        Exception.__init__(self, f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class UnknownSchemeError(ConfigError):
    pass


class ObjectStoreError(OcrflowError):
    code = "OCRFLOW.OBJECT_READ_FAILED"


class ObjectNotFound(ObjectStoreError):
    code = "OCRFLOW.OBJECT_NOT_FOUND"


class ObjectChanged(ObjectStoreError):
    code = "OCRFLOW.OBJECT_CHANGED"


class BucketInvalid(ObjectStoreError):
    code = "OCRFLOW.BUCKET_INVALID"


class KeyInvalid(ObjectStoreError):
    """A key the store refuses to read or write (the folder store: not a file's path)."""

    code = "OCRFLOW.KEY_INVALID"


class ObjectTooLarge(ObjectStoreError):
    """The object holds more bytes than the reader asked for at most."""

    code = "OCRFLOW.FILE_TOO_LARGE"


class PublishError(OcrflowError):
    """A message was not confirmed by the queue: the record must fail and be redelivered."""


class IdempotencyError(OcrflowError):
    """The idempotency store could not be read or written."""


class RecordDeferred(OcrflowError):
    """Raised while recognizing to give the record back unpublished (nothing was billed):
    the platform redelivers it later."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


class PagesPending(OcrflowError):
    """The record's time ran out before every page of its document was called; the pages
    answered are saved and the record is left for redelivery."""

    def __init__(self, message: str, calls: int) -> None:
        super().__init__(message)
        self.calls = calls  # calls made by this delivery


@dataclass
class Failure:
    """A coded failure that ends a record in a message on the failure queue."""

    code: str
    message: str
    source: ErrorSource = "ocrflow"
    http_status: int | None = None
    retryable: bool = False
    #: When a retry is advised, if the provider names a wait (UTC, RFC 3339): a redrive
    #: before then meets the same answer.
    retry_after: str | None = None

    def __post_init__(self) -> None:
        # provider messages may echo request headers; ours may quote a URL
        self.message = redact.text(self.message)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "http_status": self.http_status,
            "source": self.source,
            "retryable": self.retryable,
        }
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


def ocrflow_failure(code: str, message: str) -> Failure:
    info = OCRFLOW_CODES[code]  # KeyError here is a programming error: every code is listed
    return Failure(code=code, message=message, source="ocrflow", retryable=info.retryable)


class FailureError(OcrflowError):
    """Raised inside a step to end the record with a coded failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.code}: {failure.message}")
        self.failure = failure

    @classmethod
    def of(cls, code: str, message: str) -> FailureError:
        return cls(ocrflow_failure(code, message))


def codes_markdown() -> str:
    """The README's table of ``OCRFLOW.*`` codes (``python -m ocrflow.core.errors`` prints it)."""
    rows = ["| code | meaning | what to do |", "|---|---|---|"]
    rows += [f"| `{code}` | {info.meaning} | {info.action} |" for code, info in OCRFLOW_CODES.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(codes_markdown())
