"""Runs a chaos run by hand and prints its report as JSON.

    .venv/bin/python scripts/chaos.py --uploads 200 --fault-rate 0.3 --seed 7 --documents 20
    .venv/bin/python scripts/chaos.py --processes 4 --uploads 300 --fault-rate 0.25 --qps 20
    .venv/bin/python scripts/chaos.py --crash-cost          # a kill -9 with 8 calls in flight
    .venv/bin/python scripts/chaos.py --outage-cost 6       # Redis cut for 6 s during 8 calls

``--processes N`` runs N ``ocrflow run`` processes on the same uploads with the idempotency
store in Redis and the queues on RabbitMQ (``--redis``, ``--amqp``), a rate limit of
``--qps`` calls/s (the emulator throttling any one-second window above it), one process
killed and the result queue cut for ``--cut-s`` seconds, then every upload redelivered.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ocrflow.chaos.run import Services, crash_cost, outage_cost, run_chaos, run_fleet_chaos


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", default="429,4401,500,503,504,reset")
    parser.add_argument("--documents", type=int, default=0,
                        help="how many of the uploads are PDFs of --pages pages (one process)")
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--processes", type=int, default=None,
                        help="several ocrflow run processes on the same uploads (Redis, RabbitMQ)")
    parser.add_argument("--qps", type=int, default=20, help="the fleet's rate limit (with --processes)")
    parser.add_argument("--cut-s", type=float, default=5.0,
                        help="how long the result queue is cut (with --processes)")
    parser.add_argument("--crash-cost", action="store_true",
                        help="calls paid twice after a kill -9 with 8 calls in flight")
    parser.add_argument("--outage-cost", type=float, metavar="SECONDS",
                        help="calls paid twice after an idempotency store outage during 8 calls "
                             "(records with a 4 s deadline)")
    parser.add_argument("--redis", default=Services.redis_url)
    parser.add_argument("--amqp", default=Services.amqp_url)
    args = parser.parse_args()
    services = Services(redis_url=args.redis, amqp_url=args.amqp)
    faults = tuple(args.faults.split(","))
    report: Any
    if args.crash_cost:
        report = crash_cost(services=services)
    elif args.outage_cost is not None:
        report = outage_cost(args.outage_cost, services=services)
    elif args.processes:
        report = run_fleet_chaos(processes=args.processes, uploads=args.uploads,
                                 fault_rate=args.fault_rate, qps=args.qps, seed=args.seed,
                                 faults=faults, cut_for_s=args.cut_s, services=services)
    else:
        report = run_chaos(uploads=args.uploads, fault_rate=args.fault_rate, seed=args.seed,
                           faults=faults, documents=args.documents, pages=args.pages)
    print(json.dumps(report.as_dict(), indent=2))


if __name__ == "__main__":
    main()
