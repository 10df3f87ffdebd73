"""Every configuration value is validated at start: a bad one stops ``ocrflow invoke`` with
one line naming the variable, exit status 2 and no OCR call, and never shows a password."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrflow import cli
from ocrflow.config.settings import ENV, load_settings
from ocrflow.core import redact
from ocrflow.core.errors import ConfigError
from ocrflow.observability import log
from ocrflow.runtime import reset_runtime
from tests.conftest import load_event
from tests.support.replay_server import ReplayServer
from tests.unit.test_pipeline import png_bytes

#: A password with every delimiter a URL parser splits on, and pieces long enough to spot.
PASSWORD = "Pw0rd@Leak:Sl/ash#Hash%Perc?Quest"
PIECES = ["Pw0rd", "Leak", "Sl/ash", "Hash", "Perc", "Quest"]


def deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


CASES = [
    ("RESULT_QUEUE_URL", f"ampq://guest:{PASSWORD}@127.0.0.1:5672/%2F?queue=q", "unsupported scheme"),
    ("IDEMPOTENCY_STORE_URL", f"postgresql://u:{PASSWORD}@db.example:5432/x", "unsupported scheme"),
    ("OCR_ENDPOINT", f"ftp://u:{PASSWORD}@ocr.example", "http"),
    ("OCR_ENDPOINT", "https://user:pass@ocr.{region}.myhuaweicloud.com", "basic authentication"),
    ("OCR_ENDPOINT", "https://ocr.{region}.myhuaweicloud.com/{project}", "only placeholder"),
    ("OCR_ENDPOINT", "https://ocr.{region}.myhuaweicloud.com:99999", "port"),
    ("OCR_ENDPOINT", "https://ocr.example\\@ocr.{region}.myhuaweicloud.com", "'\\'"),
    ("RESULT_QUEUE_URL", f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F?queue=q", "port"),
    ("RESULT_QUEUE_URL", "amqp://guest:guest@127.0.0.1:99999/%2F?queue=q", "port"),
    ("RESULT_QUEUE_URL", "amqp://guest:guest@127.0.0.1/%2F?queue=q&heartbeat=x", "pika"),
    ("FAILURE_QUEUE_URL", "amqp://guest:guest@127.0.0.1:5672/%2F", "queue=NAME"),
    ("RESULT_QUEUE_URL", f"redis://u:{PASSWORD}@127.0.0.1:6379/0?stream=s", "port"),
    ("RESULT_QUEUE_URL", "redis://127.0.0.1:6379/0?stream=s&maxlen=abc", "maxlen"),
    ("RESULT_QUEUE_URL", "redis://127.0.0.1:6379/zero?stream=s", "database number"),
    ("IDEMPOTENCY_STORE_URL", f"redis://u:{PASSWORD}@127.0.0.1:6379/0", "port"),
    ("RESULT_QUEUE_URL", f"kafka://u:{PASSWORD}@127.0.0.1:9092/topic", "broker"),
    ("RESULT_QUEUE_URL", "kafka://127.0.0.1:abc/topic", "host:port"),
    ("RESULT_QUEUE_URL", f"https://u:{PASSWORD}@sqs.us-east-1.amazonaws.com/1/q", "port"),
    ("RESULT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/q", "ACCOUNT/NAME"),
    ("RESULT_QUEUE_URL", "sqlite://host/x.db?queue=q", "sqlite:///PATH.db"),
    ("RESULT_QUEUE_URL", "sqlite:///x.db?queue=q&synchronous=sometimes", "synchronous"),
    ("OCRFLOW_STATE_DIR", "/etc/passwd/state", "not a folder"),
    ("IDEMPOTENCY_STORE_URL", "dynamodb://", "TABLE"),
    ("OBJECT_STORE_URL", "file:///no/such/folder", "does not exist"),
    ("OBJECT_STORE_URL", "gs://bucket", "unsupported scheme"),
    ("OBJECT_STORE_URL", "s3://?addressing=sideways", "addressing"),
    ("CLAIM_CHECK_URL", "gs://bucket/results/", "unsupported scheme"),
    ("CLAIM_CHECK_URL", "s3:///results/", "no bucket"),
    ("OCR_ROUTES", "[" * 30_000 + "]" * 30_000, "nested"),
    ("OCR_ROUTES", json.dumps([{"api": "general-text", "prefix": "p" * 70_000}]), "characters"),
    ("OCR_API_REGIONS", deep(9), "nested"),
    ("OCR_API_REGIONS", '{"general-text": {"region": "cn-north-4"}}', "string"),
    ("OCR_PROJECT_IDS", deep(9_000), "nested"),
    ("OCR_PROJECT_IDS", '{"cn-north-4": "../../v1/other"}', "letters"),
    ("OCR_PROJECT_ID", "../../x?y", "pattern"),
    ("OCR_API_REGIONS", '{"general-text": Infinity}', "Infinity"),
    ("OCR_READ_TIMEOUT_S", "inf", "finite"),
    ("OCR_CONNECT_TIMEOUT_S", "1e300", "less than or equal"),
    ("OCR_DEADLINE_S", "nan", "finite"),
    ("OCR_DEADLINE_S", "1e300", "less than or equal"),
    ("IDEMPOTENCY_TTL_S", "inf", "finite"),
    ("IDEMPOTENCY_TTL_S", "1e300", "less than or equal"),
    ("OCR_MAX_CALLS_PER_DAY", "1" + "0" * 30, "less than or equal"),
    ("OCR_MAX_CALLS_PER_SECOND", "1e300", "at most"),
    ("OCR_MAX_CALLS_PER_SECOND", '{"general-text": 1e999}', "out of range"),
    ("OCR_URL_ALLOWED_HOSTS", '[""]', "not a host name"),
    ("OCR_URL_ALLOWED_HOSTS", '["https://bucket.obs.cn-north-4.myhuaweicloud.com"]', "not a host"),
    ("OCR_URL_ALLOWED_HOSTS", '["x.example/path"]', "not a host"),
    ("OCR_URL_ALLOWED_HOSTS", '[".com"]', "top-level"),
    ("OCR_ROUTES", json.dumps([{"api": "general-text", "input": "url",
                                "url_template": "http://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}"}]),
     "https"),
    ("OCR_ROUTES", json.dumps([{"api": "general-text", "input": "url",
                                "url_template": "https://{bucket.__class__}.x.com/{key}"}]),
     "placeholder"),
    ("OCR_ROUTES", json.dumps([{"api": "general-text", "input": "url",
                                "url_template": "https://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}"}]),
     "OCR_URL_ALLOWED_HOSTS"),
    ("POWERTOOLS_SERVICE_NAME", "svc\nname", "pattern"),
    # an unbalanced '[' reads as an IPv6 host to the standard parser
    ("OCR_ENDPOINT", "https://[ocr.{region}.myhuaweicloud.com", "not a URL"),
    ("RESULT_QUEUE_URL", "amqp://guest:guest@[127.0.0.1:5672/%2F?queue=q", "not a URL"),
    ("IDEMPOTENCY_STORE_URL", "redis://[127.0.0.1:6379/0", "not a URL"),
    ("OBJECT_STORE_URL", "s3://[bucket", "not a URL"),
    ("CLAIM_CHECK_URL", "s3://[results/large/", "not a URL"),
    ("FAILURE_QUEUE_URL", "amqp://guest:guest@127.0.0.1:5672/%2F?queue=a\u2028b", "non-printable"),
    ("OBJECT_STORE_URL", "s3://?endpoint=https://[obs.example", "not a URL"),
]


@pytest.fixture
def env(tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for names in ENV.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    root = tmp_path / "buckets"
    (root / "ocrflow-uploads").mkdir(parents=True)
    (root / "ocrflow-uploads" / "a.png").write_bytes(png_bytes())
    for name, value in {"OBJECT_STORE_URL": root.as_uri(), "OCR_ENDPOINT": replay.url,
                        "OCR_PROJECT_ID": "proj", "HUAWEICLOUD_SDK_AK": "AK0000",
                        "HUAWEICLOUD_SDK_SK": "SK0000", "OCRFLOW_STATE_DIR": str(tmp_path / "state")
                        }.items():
        monkeypatch.setenv(name, value)
    event = load_event("s3_put.json")
    event["Records"][0]["s3"]["object"] = {"key": "a.png"}
    (tmp_path / "event.json").write_text(json.dumps(event))
    monkeypatch.chdir(tmp_path)
    log._configured = None  # log to this test's captured stderr
    yield tmp_path
    log._configured = None  # back to the stderr that outlives this test's capture
    log.configure("ocrflow", "INFO")
    reset_runtime()
    redact.forget()


@pytest.mark.parametrize("variable, value, words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_bad_value_stops_the_start_with_one_line_exit_2_and_no_call(
        env: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], variable: str, value: str, words: str) -> None:
    monkeypatch.setenv(variable, value)
    status = cli.main(["invoke", "event.json"])
    out, err = capsys.readouterr()
    assert status == 2, err
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"ocrflow: configuration error: {variable}: "), line
    assert words in line, line
    for piece in PIECES:
        assert piece not in err
    assert replay.received == []


def test_the_same_environment_without_the_bad_value_calls(env: Path, replay: ReplayServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["invoke", "event.json"]) == 0, capsys.readouterr().err
    assert len(replay.received) == 1


def test_valid_urls_of_every_scheme_pass_without_connecting(tmp_path: Path) -> None:
    """Nothing listens on these ports: the start still succeeds, since nothing connects."""
    encoded = "Pw0rd%40Leak%3ASl%2Fash%23Hash%25Perc%3FQuest"
    settings = load_settings({
        "RESULT_QUEUE_URL": f"amqp://guest:{encoded}@127.0.0.1:1/%2F?queue=results",
        "FAILURE_QUEUE_URL": f"kafka://u:{encoded}@127.0.0.1:1/failures",
        "IDEMPOTENCY_STORE_URL": f"redis://u:{encoded}@127.0.0.1:1/0?prefix=t:",
        "OBJECT_STORE_URL": "s3://?endpoint=https://obs.cn-north-4.myhuaweicloud.com&addressing=virtual",
        "CLAIM_CHECK_URL": "s3://results-bucket/large/",
        "OCRFLOW_STATE_DIR": str(tmp_path),
        "OCR_URL_ALLOWED_HOSTS": '[".obs.cn-north-4.myhuaweicloud.com", "x.example:8443"]',
        "IDEMPOTENCY_TTL_S": "86400", "OCR_DEADLINE_S": "600",
    })
    assert settings.idempotency_ttl_s == 86400
    redact.forget()


def test_a_redis_stream_url_with_a_bad_maxlen_is_refused_by_the_loader() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"RESULT_QUEUE_URL": "redis://127.0.0.1:6379/0?stream=s&maxlen=-5"})
    assert err.value.variable == "RESULT_QUEUE_URL"


@pytest.mark.parametrize("variable, value, words", [
    ("HUAWEICLOUD_SDK_AK", "AKPART1\r\nX-Injected: 1", "line break"),
    ("OCR_IAM_TOKEN", "MIItokenpart\nInjected: 1", "line break"),
    ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "tokenpart\rInjected", "line break"),
    ("HUAWEICLOUD_SDK_SK", "SKPART\u00e9SECRET", "not ASCII"),
    ("HUAWEICLOUD_SDK_SK", "SKPART\udcffSECRET", "not ASCII"),  # an undecodable byte
    ("HUAWEICLOUD_SDK_AK", "AKPART\x1bSECRET", "control character"),
])
def test_a_credential_a_header_or_the_signer_cannot_carry_stops_the_start(
        env: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], variable: str, value: str, words: str) -> None:
    """Before, every record then failed (OCRFLOW.TRANSPORT for a line break, INTERNAL_ERROR
    for a non-ASCII SK), each after the start had been declared good."""
    monkeypatch.setenv(variable, value)
    status = cli.main(["invoke", "event.json"])
    out, err = capsys.readouterr()
    assert status == 2, err
    [line] = err.splitlines()
    assert line.startswith(f"ocrflow: configuration error: {variable}: ") and words in line, line
    for piece in ("PART", "SECRET", "Injected"):
        assert piece not in err
    assert replay.received == []


@pytest.mark.parametrize("folder", ["state?x=1", "state#frag", "a%2Fb", "100%", "sp ace"])
def test_the_state_folder_is_the_folder_named(env: Path, replay: ReplayServer,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              folder: str) -> None:
    """'?', '#' and '%2F' in OCRFLOW_STATE_DIR were read as a query, a fragment or a '/'
    of the embedded queue's URL: blamed on RESULT_QUEUE_URL, or written somewhere else."""
    monkeypatch.setenv("OCRFLOW_STATE_DIR", str(env / folder))
    status = cli.main(["invoke", "event.json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert sorted(p.name for p in (env / folder).iterdir() if p.suffix == ".db") == [
        "idempotency.db", "queues.db"]
    assert not (env / "a").exists()
    assert len(replay.received) == 1
