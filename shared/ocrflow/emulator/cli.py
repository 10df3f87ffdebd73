"""``ocrflow emulator``: run the local OCR emulator in the foreground."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Any

from .models import FAULTS, EmulatorOptions
from .server import make_server
from .throttle import WINDOWS


def _json_object(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise argparse.ArgumentTypeError(
            'expected a JSON object of strings, e.g. {"general-text": "cn-north-4"}')
    return value


def _faults(text: str) -> list[str]:
    faults = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {','.join(FAULTS)}")
    return faults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ocrflow emulator", description=(
        "A local stand-in for the Huawei Cloud OCR API: same paths, signing and error codes; "
        "real recognition for the text APIs."))
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port (default 8080)")
    p.add_argument("--region", default="cn-north-4", help="region of calls without a /{region} prefix")
    p.add_argument("--packages", type=_json_object, default=None,
                   help='where each API\'s package was bought, e.g. {"general-text": "cn-north-4"}; '
                        "default: every API in every region that offers it")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", type=_faults, default=list(FAULTS), help=",".join(FAULTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--slow-ms", type=int, default=35_000, help="delay of the 'slow' fault")
    p.add_argument("--no-recognition", action="store_true",
                   help="answer text APIs with an empty, well-formed result (for benchmarks)")
    p.add_argument("--qps", type=int, default=None,
                   help="answer 429 APIG.0308 above this many calls per second per API, as the gateway does")
    p.add_argument("--qps-window", choices=WINDOWS, default="second",
                   help="count --qps in each second of the clock (default) or in any one-second "
                        "window before a call (sliding)")
    p.add_argument("--credentials", type=_json_object, default=None,
                   help='AK → SK accepted, e.g. {"AK": "SK"}; default HUAWEICLOUD_SDK_AK/SK if set, '
                        "else any AK (form and date still checked)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    credentials = args.credentials
    if credentials is None and os.environ.get("HUAWEICLOUD_SDK_AK") and os.environ.get("HUAWEICLOUD_SDK_SK"):
        credentials = {os.environ["HUAWEICLOUD_SDK_AK"]: os.environ["HUAWEICLOUD_SDK_SK"]}
    options = EmulatorOptions(region=args.region, packages=args.packages, fault_rate=args.fault_rate,
                              faults=args.faults, seed=args.seed, latency_ms=args.latency_ms,
                              slow_ms=args.slow_ms, recognition=not args.no_recognition,
                              credentials=credentials, qps=args.qps, qps_window=args.qps_window)
    try:
        _, httpd = make_server(options, args.port)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"ocrflow emulator: {exc}\n")
        return 2
    port = httpd.server_address[1]
    print(f"ocrflow emulator listening on http://127.0.0.1:{port} (region {args.region}, "
          f"recognition {'off' if args.no_recognition else 'on'}, "
          f"signatures {'checked' if credentials else 'form and date only'}"
          f"{f', {args.qps} calls/s per API ({args.qps_window} window)' if args.qps else ''})",
          flush=True)

    def stop(*_: Any) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    return 0
