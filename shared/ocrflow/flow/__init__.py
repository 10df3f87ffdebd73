"""The flow of a record: a batch ordered and run concurrently (:mod:`.pipeline`), each record
prepared without a paid call (:mod:`.prepare`), recognized — read, checked, called
(:mod:`.recognize`, :mod:`.pages` for a document of several pages) — and delivered as exactly
one message (:mod:`.delivery`); the keys and counters it keeps in the idempotency store
(:mod:`.keys`, :mod:`.quota`, :mod:`.ledger`); and the ways records re-enter it: replaying
failures (:mod:`.redrive`), S3 Batch Operations (:mod:`.batchops`), backfilling a bucket
(:mod:`.backfill`)."""
