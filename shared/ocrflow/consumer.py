"""Reading ocrflow's messages downstream: the consumer's public API.

* :func:`parse_message` (and :func:`parse`, :func:`parse_sqs_event`) turn a message as any
  queue delivers it into a typed :class:`OcrResult` or :class:`OcrFailure`, refusing what is
  not an ocrflow message with a :class:`MessageError`;
* :func:`result_of` and :func:`text` give a result's provider answer and text, following a
  claim check to where it was stored (:func:`fetch_ref`, :class:`ResultRefError`);
* :class:`ConsumerGuard` runs a handler once per CloudEvent;
* :func:`render` makes a file people keep from a result (the ``render`` extra).

The implementation is :mod:`ocrflow.contract.consumer`; this module is what users import.
"""

from __future__ import annotations

from typing import Any

from .adapters.stores import ObjectStore
from .contract.consumer import (
    FETCH_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    MAX_RESULT_BYTES,
    Confidence,
    ConsumerGuard,
    ErrorInfo,
    FailureData,
    MessageError,
    MessageObject,
    OcrFailure,
    OcrResult,
    Page,
    ResultData,
    ResultRef,
    ResultRefError,
    Usage,
    body_of,
    fetch_ref,
    parse,
    parse_message,
    parse_sqs_event,
    resolved,
    result_of,
    text,
)

__all__ = ["Confidence", "ConsumerGuard", "ErrorInfo", "FETCH_TIMEOUT_S", "FailureData",
           "MAX_MESSAGE_BYTES", "MAX_RESULT_BYTES", "MessageError", "MessageObject", "OcrFailure",
           "OcrResult", "Page", "ResultData", "ResultRef", "ResultRefError", "Usage",
           "body_of", "fetch_ref", "parse", "parse_message", "parse_sqs_event", "render",
           "resolved", "result_of", "text"]


def render(message: Any, fmt: str, store: ObjectStore | str | None = None, *, dpi: float = 144) -> bytes:
    """One message as a file people keep: ``fmt`` is ``pdf`` (searchable: the page images
    with the text as an invisible layer), ``markdown``, ``hocr`` or ``text``. ``message``
    is a parsed message or one as a queue delivers it; ``store`` (an object store or its URL)
    holds the original upload and any claim-checked result. Raises
    :class:`ocrflow.outputs.render.RenderError` for a failure message or an original that is
    gone. ``pdf`` and ``hocr`` need ``pip install 'ocrflow[render]'``."""
    from .outputs.render import needs_original, render_message, require

    require(fmt)
    if not isinstance(message, (OcrResult, OcrFailure)):
        message = parse_message(message)
    opened = store
    if isinstance(store, str) or (store is None and needs_original(fmt)):
        from .adapters.registry import open_object_store

        opened = open_object_store(store or "s3://", "OBJECT_STORE_URL")
    try:
        return render_message(message, fmt, opened if isinstance(opened, ObjectStore) else None, dpi)
    finally:
        if opened is not store and isinstance(opened, ObjectStore):
            opened.close()
