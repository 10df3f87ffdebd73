"""Everything that talks to a backend, each behind a small port, chosen by URL scheme in
:mod:`.registry` and imported only when its scheme is used: object stores (:mod:`.stores`),
queues (:mod:`.queues`), the idempotency store (:mod:`.idempotency`) and the fleet-wide rate
limit (:mod:`.ratelimit`), with the client builders their backends share (:mod:`.aws`,
:mod:`.httpsession`, :mod:`.sqlite`)."""
