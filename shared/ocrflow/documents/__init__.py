"""Files made ready for the API: an upload turned into what each call sends (:mod:`.upload`),
with the local checks that refuse only what the API would surely refuse (:mod:`.filecheck`),
photos fitted to the API's limits (:mod:`.fit`) and PDF pages counted and split (:mod:`.pdf`).
"""

from .upload import (
    MAX_DOCUMENT_BYTES,
    PAGE_NUMBER_MAX_BYTES,
    Document,
    Part,
    body_memory,
    check_size,
    max_download_bytes,
    memory_estimate,
    pages_memory,
    prepare,
    records_memory,
)

__all__ = ["MAX_DOCUMENT_BYTES", "PAGE_NUMBER_MAX_BYTES", "Document", "Part", "body_memory",
           "check_size", "max_download_bytes", "memory_estimate", "pages_memory", "prepare",
           "records_memory"]
