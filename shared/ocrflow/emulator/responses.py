"""Requests in, answers out (moto's ``responses``): the HTTP handler reads a request, asks
the emulated service (:mod:`.models`) in the gateway's order — body size, throttling, an
injected fault, the signature, then the service — and writes its answer with an
``X-Request-Id``."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..provider.usage import billed_units
from .exceptions import Answer
from .models import FAULT_ANSWERS, Emulator

#: The gateway's limit on a request body.
MAX_BODY = 12 * 1024 * 1024


def handler_class(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ocrflow-emulator"
        # headers and body go out in separate writes: without TCP_NODELAY every answer waits
        # ~40 ms for the client's delayed ACK (Nagle), which would dwarf what is measured
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass  # quiet: request lines would only repeat what stats count

        def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None,
                  request_id: str | None = None) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", request_id or uuid.uuid4().hex)
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/_emulator/stats":
                self._send(200, emu.stats.snapshot())
            else:
                self._send(404, {"error_code": "APIG.0101", "error_msg": "The API does not exist."})

        def do_POST(self) -> None:
            with emu.idle:
                emu.in_flight += 1
            try:
                self._post()
            finally:
                with emu.idle:
                    emu.in_flight -= 1
                    emu.idle.notify_all()

        def _post(self) -> None:
            if self.path.split("?")[0] == "/_emulator/reset":
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                emu.stats.reset()
                self._send(200, {"reset": True})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                region, api = emu.route(self.path)
            except Answer as a:
                self.rfile.read(length)
                self._send(a.status, {"error_code": a.code, "error_msg": a.message})
                return
            if length > MAX_BODY:
                remaining = length  # read and drop it, so the client sees the answer
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                emu.stats.count(api, region, 413)
                self._send(413, {"error_code": "APIG.0201", "error_msg": "Request entity too large."})
                return
            body = self.rfile.read(length)
            if emu.throttle is not None and not emu.throttle.admit(api, region):
                emu.stats.count(api, region, 429)  # refused at the gateway: fast, never billed
                self._send(429, {"error_code": "APIG.0308", "error_msg": emu.throttle.message()})
                return
            if emu.options.latency_ms:
                time.sleep(emu.options.latency_ms / 1000)
            fault = emu.faults.next()
            if fault == "reset":
                emu.stats.count(api, region, 0)
                self._reset()
                return
            status, payload, extra = self._answer(region, api, body, fault)
            if fault == "slow":
                time.sleep(emu.options.slow_ms / 1000)
            billed = billed_units(api, payload.get("result")) if 200 <= status < 300 else 0
            request_id = uuid.uuid4().hex
            emu.stats.count(api, region, status, billed, request_id)
            with contextlib.suppress(OSError):  # a client that gave up has gone
                self._send(status, payload, extra, request_id)

        def _answer(self, region: str, api: str, body: bytes,
                    fault: str | None) -> tuple[int, Any, dict[str, str]]:
            injected = {"X-Emulator-Fault": fault} if fault else {}
            if fault in FAULT_ANSWERS:
                status, err, msg = FAULT_ANSWERS[fault]
                return status, {"error_code": err, "error_msg": msg}, injected
            try:
                emu.authenticate("POST", self.path, dict(self.headers.items()), body)
                payload, extra = emu.recognize(api, region, body)
                return 200, payload, {**extra, **injected}
            except Answer as a:
                return a.status, {"error_code": a.code, "error_msg": a.message}, injected

        def _reset(self) -> None:
            """Drops the connection without an answer (TCP RST)."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

    return Handler
