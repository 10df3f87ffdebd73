"""A record made ready for delivery, with no paid call: the bucket and key checked, the
route, the region and the object's identity decided (:class:`Preparer`). The outcome is a
:class:`Job`: the record's idempotency key and, when the record already failed — a bad event,
a bad name, an API not offered where it is routed — the failure message to deliver."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..contract.events import InvalidRecord
from ..contract.messages import FailureMessage
from ..core import object_names
from ..core.errors import Failure, FailureError, ObjectStoreError, ocrflow_failure
from ..core.models import ObjectHead, ObjectRef
from ..core.signer import Credentials
from ..provider.routing import Route
from ..runtime import Runtime
from . import keys


@dataclass(frozen=True)
class Job:
    """One record, ready for delivery."""

    #: The object (None for an event that named none).
    ref: ObjectRef | None
    #: The idempotency key the delivery claims.
    key: str
    #: The SQS message that carried the record (partial batch failures).
    delivery_id: str | None
    #: A failure decided from the event, the configuration or the object's metadata:
    #: nothing is read or paid for, the message is only delivered.
    decided: FailureMessage | None = None
    api: str | None = None
    region: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    input: str = "image"
    url_template: str | None = None
    info: ObjectHead | None = None


class Preparer:
    def __init__(self, runtime: Runtime, function: str = "recognize",
                 route: Route | None = None) -> None:
        """``route``: one that replaces ``OCR_ROUTES`` for these records (an S3 Batch
        Operations job that names its API)."""
        self.rt = runtime
        self.function = function
        self.route = route

    def prepare(self, record: ObjectRef | InvalidRecord,
                credentials: Credentials | None = None) -> Job:
        if isinstance(record, InvalidRecord):
            failure = ocrflow_failure("OCRFLOW.EVENT_INVALID", record.reason)
            message = FailureMessage(function=self.function, ref=None, error=failure,
                                     event_excerpt=record.excerpt)
            return Job(None, keys.invalid_record_key(record.fingerprint), record.delivery_id,
                       decided=message)
        ref = record
        job = Job(ref, "", ref.delivery_id)
        try:
            object_names.check_bucket(ref.bucket, self.rt.settings.object_store_scheme)
            object_names.check_key(ref.key, self.rt.settings.object_store_scheme)
            route = self.route if self.route is not None else self.rt.settings.routing
            info = self._head(ref, credentials) if route.needs_metadata else None
            choice = route.choose(ref.key, info.metadata if info else None)
            region = self.rt.settings.region_for(choice.api)
            job = replace(job, api=choice.api, region=region, options=choice.options,
                          input=choice.input, url_template=choice.url_template, info=info)
            refusal = self.rt.catalogue.refusal_code(choice.api, region, self.rt.settings.catalogue_check)
            if refusal is not None:
                raise FailureError.of(*refusal)
            if ref.etag is None:
                # no content identity in the event (a local run, an S3 Batch Operations task):
                # the ETag names the content, so the same upload seen by a notification and
                # by a bulk job is one record (version and ETag both in its key)
                info = job.info or self._head(ref, credentials)
                ref = replace(ref, etag=info.etag, size=info.size)
                job = replace(job, ref=ref, info=info)
        except FailureError as exc:
            return self._decided(job, exc.failure)
        except ObjectStoreError as exc:
            return self._decided(job, store_failure(exc))
        return replace(job, key=keys.record_key(ref, job.api or "-", job.region or "-"))

    def _decided(self, job: Job, failure: Failure) -> Job:
        assert job.ref is not None
        message = FailureMessage(function=self.function, ref=job.ref, api=job.api,
                                 region=job.region, error=failure)
        return replace(job, key=keys.record_key(job.ref, job.api or "-", job.region or "-"),
                       decided=message)

    def _head(self, ref: ObjectRef, credentials: Credentials | None) -> ObjectHead:
        return self.rt.object_store_for(credentials, ref.region).head(ref.bucket, ref.key,
                                                                       ref.version_id)


def store_failure(exc: ObjectStoreError) -> Failure:
    return ocrflow_failure(exc.code, str(exc))
