"""A small real HTTP server that answers OCR calls with scripted answers in the documented
format, and records what it received (for signature and body assertions)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK_RESULT = {"result": {"direction": 0.0, "words_block_count": 1,
                        "words_block_list": [{"words": "hello", "confidence": 0.99,
                                              "location": [[1, 1], [9, 1], [9, 5], [1, 5]]}]}}


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: OK_RESULT)
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ReplayServer:
    """``respond`` answers from what was received instead of the script (an echo of the
    request); ``hold_s`` holds every answer that long, and ``most`` counts how many calls
    were held at once."""

    def __init__(self, respond: Callable[[Received], Answer] | None = None,
                 hold_s: float = 0.0) -> None:
        self.answers: deque[Answer] = deque()
        self.default = Answer()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.in_flight = self.most = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one answer, not one answer plus 40 ms

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                received = Received("POST", self.path, dict(self.headers.items()), body)
                with outer.lock:
                    outer.received.append(received)
                    answer = outer.answers.popleft() if outer.answers else outer.default
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                if respond is not None:
                    answer = respond(received)
                time.sleep(hold_s)
                with outer.lock:
                    outer.in_flight -= 1
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-Request-Id", f"req-{len(outer.received)}")
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
