"""Real services for the adapter tests: moto in server mode (S3, SQS) started here on a free
port; RabbitMQ and Redis on 127.0.0.1, started if down, otherwise a failure naming them
(never a skip that hides a missing service)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_service(name: str, port: int, start: list[str], wait_s: float) -> None:
    if port_open(port):
        return
    if shutil.which(start[0]):
        subprocess.run(start, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if port_open(port):
                return
            time.sleep(0.5)
    pytest.fail(f"{name} is not running on 127.0.0.1:{port} and could not be started "
                f"({' '.join(start)})", pytrace=False)


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    ensure_service("RabbitMQ", 5672, ["rabbitmq-server", "-detached"], 60)
    return "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(scope="session")
def redis_url() -> str:
    ensure_service("Redis", 6379, ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                                   "--port", "6379", "--save", "", "--appendonly", "no",
                                   "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"], 15)
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode on a free port, reached through real boto3 calls."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}", pytrace=False)
        time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{port}"
    old = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    yield endpoint
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(10)
