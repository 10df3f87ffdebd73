"""A recording forwarder in front of an S3-compatible server (moto): every request is
recorded (method, host, path, headers) and passed on unchanged, the answer passed back.

As an HTTPS proxy (``proxy=trustme.CA``) it also takes ``CONNECT host:443``, records the
tunnel's target, and terminates TLS with a certificate of that CA for the host, so a client
that trusts the CA (``REQUESTS_CA_BUNDLE``) talks to ``https://BUCKET.obs.REGION.…`` and the
request reaches moto. Virtual-host requests are rewritten to path style for moto; the
record keeps what the client sent."""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Recorded:
    method: str
    host: str
    path: str
    headers: dict[str, str]  # names lower-cased


class RecordingForwarder:
    def __init__(self, target: str, proxy: Any = None) -> None:
        self.target = urlsplit(target)
        self.requests: list[Recorded] = []
        self.tunnels: list[str] = []
        self.lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_CONNECT(self) -> None:  # noqa: N802
                host = self.path.rsplit(":", 1)[0]
                with outer.lock:
                    outer.tunnels.append(self.path)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                self.connection = outer._context(proxy, host).wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                self.close_connection = False
                while not self.close_connection:
                    self.handle_one_request()

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                host = headers.get("host", "")
                with outer.lock:
                    outer.requests.append(Recorded(self.command, host, self.path, headers))
                path = self.path
                bucket = host.split(".obs.", 1)[0] if ".obs." in host else None
                if bucket:  # virtual host style → path style for moto
                    path = f"/{bucket}{path}"
                conn = http.client.HTTPConnection(outer.target.hostname or "127.0.0.1", outer.target.port,
                                                  timeout=30)
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, path, body=body or None, headers=forwarded)
                answer = conn.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                hop = ("transfer-encoding", "connection", "content-length", "server", "date")
                for k, v in answer.getheaders():
                    if k.lower() not in hop:
                        self.send_header(k, v)
                # a HEAD answer names the length of the body it does not carry
                declared = answer.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", declared or str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                self.wfile.flush()
                conn.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _context(self, ca: Any, host: str) -> ssl.SSLContext:
        with self.lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ca.issue_cert(host).configure_cert(ctx)
                self._contexts[host] = ctx
            return ctx

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
