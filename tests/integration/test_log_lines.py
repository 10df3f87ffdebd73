"""With the brokers unreachable, every line on stderr is a Powertools JSON line: the client
libraries' own logs (librdkafka, pika) come through the same formatter, without secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.integration.conftest import free_port
from tests.support.replay_server import ReplayServer
from tests.unit.test_cli import ocrflow
from tests.unit.test_pipeline import png_bytes, s3_event

POWERTOOLS_KEYS = ("level", "location", "message", "timestamp", "service")
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"


def _parse(stderr: str) -> list[dict[str, Any]]:
    lines = stderr.splitlines()
    assert lines
    parsed = []
    for line in lines:
        doc = json.loads(line)  # a raw library line would fail here
        if "_aws" in doc:  # an embedded-metrics document, also JSON
            continue
        assert all(k in doc for k in POWERTOOLS_KEYS), line
        assert doc["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), line
        assert doc["service"] == "ocrflow", line
        parsed.append(doc)
    return parsed


def test_kafka_and_rabbitmq_down_every_stderr_line_is_powertools_json(
        tmp_path: Path, replay: ReplayServer) -> None:
    folder = tmp_path / "buckets" / "ocrflow-uploads"
    folder.mkdir(parents=True)
    (folder / "good.png").write_bytes(png_bytes())
    (folder / "bad.png").write_bytes(b"not an image")  # a failure, for the failure queue
    event = s3_event("good.png", "bad.png")
    for record in event["Records"]:
        record["s3"]["object"].pop("size")
    (tmp_path / "event.json").write_text(json.dumps(event))
    kafka_port, amqp_port = free_port(), free_port()  # nothing listens there
    env = {"OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(), "OCR_ENDPOINT": replay.url,
           "OCR_PROJECT_ID": "proj", "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK",
           "RESULT_QUEUE_URL": f"kafka://ocrflow:{PASSWORD}@127.0.0.1:{kafka_port}/results"
                               "?security_protocol=SASL_PLAINTEXT&delivery_timeout_ms=3000",
           "FAILURE_QUEUE_URL": f"amqp://ocrflow:{PASSWORD}@127.0.0.1:{amqp_port}/%2F"
                                "?queue=failures"}
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    assert PASSWORD not in run.stderr and PASSWORD not in run.stdout
    lines = _parse(run.stderr)
    libraries = {line.get("logger", "").split(".")[0] for line in lines}
    assert {"pika", "ocrflow"} <= libraries, run.stderr  # librdkafka comes through ocrflow's
    assert any("kafka" in line.get("logger", "") for line in lines), run.stderr
    assert all(line["level"] in ("WARNING", "ERROR", "CRITICAL")
               for line in lines if "logger" in line)
    unpublished = [line for line in lines
                   if line["message"].startswith("record not published")]
    assert len(unpublished) == 2


def broken_deflate_tiff() -> bytes:
    """A TIFF wider than any API takes (so ocrflow decodes it to fit it) whose deflate stream
    is corrupt: libtiff reports 'ZIPDecode: Decoding error …' on its own; and whose
    description tag points past the end of the file, which Pillow reports as a UserWarning
    ('Truncated File Read')."""
    import io
    import struct

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (31_000, 16), 255).save(out, "TIFF", compression="tiff_adobe_deflate",
                                          description="x" * 200)
    data = bytearray(out.getvalue())
    for i in range(10, 60):  # inside the first strip, after the 8-byte header
        data[i] ^= 0x5A
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12):
        if struct.unpack_from("<H", data, entry)[0] == 270:  # ImageDescription
            struct.pack_into("<I", data, entry + 8, len(data) + 1000)
    return bytes(data)


def png_header(width: int, height: int) -> bytes:
    """A PNG of ``width``×``height`` with no pixel data: Pillow warns when it opens it
    (DecompressionBombWarning past 89 million pixels), then cannot decode it."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x78\x9c") + chunk(b"IEND", b"")


def test_decoder_messages_and_library_warnings_are_powertools_json(
        tmp_path: Path, replay: ReplayServer) -> None:
    """libtiff writes its errors to the process's stderr itself and Pillow warns through the
    warnings module: both come out as our JSON lines."""
    folder = tmp_path / "buckets" / "ocrflow-uploads"
    folder.mkdir(parents=True)
    (folder / "wide.tif").write_bytes(broken_deflate_tiff())
    (folder / "bomb.png").write_bytes(png_header(31_000, 3_000))
    event = s3_event("wide.tif", "bomb.png")
    for record in event["Records"]:
        record["s3"]["object"].pop("size")
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = {"OBJECT_STORE_URL": (tmp_path / "buckets").as_uri(), "OCR_ENDPOINT": replay.url,
           "OCR_PROJECT_ID": "proj", "HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK": "SK"}
    run = ocrflow("invoke", "event.json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["counts"]["failures"] == 2
    lines = _parse(run.stderr)
    libtiff = [line for line in lines if line.get("logger") == "libtiff"]
    assert libtiff and all(line["level"] == "WARNING" for line in libtiff), run.stderr
    assert any(line["message"].startswith("ZIPDecode: ") for line in libtiff), run.stderr
    warned = [line for line in lines if line.get("logger") == "py.warnings"]
    assert any(line["message"].startswith("UserWarning: ") for line in warned), run.stderr
    assert replay.received == []
