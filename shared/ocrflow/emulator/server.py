"""A local stand-in for Huawei Cloud OCR: same paths, same signing, same error codes.

``POST [/{region}]/v2/{project_id}/ocr/{api}`` is answered like the real service:

1. a body over 12 MB → 413 ``APIG.0201`` (the gateway's limit);
2. with ``--qps N``, more than N calls to one API in one second (each second of the
   clock, or with ``--qps-window sliding`` any second) → 429 ``APIG.0308`` (the gateway's
   throttling, :mod:`.throttle`), answered at once and never billed;
3. an injected fault, if one is drawn (``--fault-rate``, ``--faults``, ``--seed``);
4. the signature (``SDK-HMAC-SHA256``, the same signer as the client) or ``X-Auth-Token``
   → 401 ``APIG.0301`` when wrong or when ``X-Sdk-Date`` is more than 15 minutes off;
5. the API and region: an API the region does not offer → 404 ``APIG.0101``; an API whose
   package was bought elsewhere (``--packages``) → 403 ``ModelArts.4204``;
6. the body: ``image``/``url`` (``data`` for the APIs that take it) both or neither →
   ``AIS.0101``; bad base64 or a format the API does not take → ``AIS.0102``; too large,
   too small or out-of-range sides → ``AIS.0103``;
7. the answer: real recognition for the text APIs (RapidOCR on ONNX Runtime, CPU), a
   recorded answer for the others (``X-Emulator-Recorded: true``): copied from the API
   reference (id-card, invoice-verification) or the shape of the official SDK's result
   model with placeholder values; never invented data passed off as recognition.

``GET /_emulator/stats`` counts calls per API and region like the console does (billed =
2xx answers); ``POST /_emulator/reset`` zeroes them. Every answer has an ``X-Request-Id``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

from .models import Emulator, EmulatorOptions
from .responses import handler_class


class RunningEmulator:
    def __init__(self, emulator: Emulator, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self.emulator, self.httpd, self.thread = emulator, httpd, thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats.snapshot()

    def billed_request_ids(self) -> list[str]:
        """The X-Request-Id of every billed answer so far, whether or not it arrived (with
        ``keep_billed_ids``)."""
        with self.emulator.stats.lock:
            return list(self.emulator.stats.billed_ids)

    @property
    def in_flight(self) -> int:
        """Requests being answered now."""
        with self.emulator.idle:
            return self.emulator.in_flight

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Waits until no request is being answered (slow answers included)."""
        emu = self.emulator
        with emu.idle:
            return emu.idle.wait_for(lambda: emu.in_flight == 0, timeout)

    def reset(self) -> None:
        self.emulator.stats.reset()

    @property
    def fault_log(self) -> list[str | None]:
        """The fault drawn for each OCR request so far, in arrival order."""
        return list(self.emulator.faults.log)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(options: EmulatorOptions, port: int = 0) -> tuple[Emulator, ThreadingHTTPServer]:
    emulator = Emulator(options)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_class(emulator))
    httpd.daemon_threads = True
    return emulator, httpd


def start_emulator(port: int = 0, **options: Any) -> RunningEmulator:
    """Starts the emulator on a background thread (``port=0``: a free port)."""
    emulator, httpd = make_server(EmulatorOptions(**options), port)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return RunningEmulator(emulator, httpd, thread)


@contextlib.contextmanager
def running(**options: Any) -> Iterator[RunningEmulator]:
    emu = start_emulator(**options)
    try:
        yield emu
    finally:
        emu.stop()
