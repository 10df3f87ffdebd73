"""The vocabulary every layer shares, importing nothing else of ocrflow: the error codes and
error types (:mod:`.errors`), the domain types (:mod:`.models`), the rules for bucket and key
names (:mod:`.object_names`), the redaction of secrets that every error text goes through
(:mod:`.redact`), a record's trace context (:mod:`.tracing`), Huawei Cloud request signing
(:mod:`.signer`) and JSON read within bounds (:mod:`.boundedjson`)."""
