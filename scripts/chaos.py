"""Runs the chaos run by hand and prints its report as JSON.

    .venv/bin/python scripts/chaos.py --uploads 200 --fault-rate 0.3 --seed 7 --documents 20
"""

from __future__ import annotations

import argparse
import json

from ocrflow.chaos import run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", default="429,4401,500,503,504,reset")
    parser.add_argument("--documents", type=int, default=0,
                        help="how many of the uploads are PDFs of --pages pages")
    parser.add_argument("--pages", type=int, default=3)
    args = parser.parse_args()
    report = run_chaos(uploads=args.uploads, fault_rate=args.fault_rate, seed=args.seed,
                       faults=tuple(args.faults.split(",")), documents=args.documents,
                       pages=args.pages)
    print(json.dumps(report.as_dict(), indent=2))


if __name__ == "__main__":
    main()
