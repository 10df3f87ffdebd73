"""Every configuration variable over its value space, generated (Hypothesis): a value is either
taken, and then usable (a URL parses, a credential fits in a signed HTTP request, the state
folder is the folder named), or refused with one ConfigError naming that variable — never a
traceback, never the secret itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrflow.adapters.sqlite import parse_sqlite_url
from ocrflow.config.settings import ENV, SECRET_FIELDS, load_settings
from ocrflow.core import redact
from ocrflow.core.errors import ConfigError
from ocrflow.core.signer import Credentials, sign
from tests.support.mutations import spliced

#: One value each variable takes, to be mutated.
EXAMPLES = {
    "OCR_PROJECT_ID": "0123456789abcdef", "HUAWEICLOUD_SDK_PROJECT_ID": "0123456789abcdef",
    "OCR_REGION": "cn-north-4", "OCR_API_REGIONS": '{"general-text": "cn-north-4"}',
    "OCR_PROJECT_IDS": '{"cn-north-4": "p1"}',
    "OCR_ENDPOINT": "https://ocr.{region}.myhuaweicloud.com",
    "HUAWEICLOUD_SDK_AK": "HPUAEXAMPLEACCESSKEY", "HUAWEICLOUD_SDK_SK": "s" * 40,
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": "gQpjbi1ub3J0aC00" * 4, "OCR_IAM_TOKEN": "MII" + "A" * 80,
    "HUAWEICLOUD_SDK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ocr",
    "OCR_ROUTES": '[{"api": "general-text", "suffix": ".png"}]',
    "RESULT_QUEUE_URL": "amqp://guest:pw-1234@127.0.0.1:5672/%2F?queue=results",
    "FAILURE_QUEUE_URL": "redis://:pw-1234@127.0.0.1:6379/0?stream=failures",
    "OBJECT_STORE_URL": "s3://?endpoint=https://obs.cn-north-4.myhuaweicloud.com",
    "CLAIM_CHECK_URL": "s3://results-bucket/large/",
    "IDEMPOTENCY_STORE_URL": "redis://u:pw-1234@127.0.0.1:6379/0",
    "IDEMPOTENCY_TTL_S": "86400", "POWERTOOLS_SERVICE_NAME": "ocrflow",
    "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_NAMESPACE": "ocrflow",
    "OCR_MAX_CONCURRENCY": "8", "OCR_MAX_CALLS_PER_DAY": "1000", "OCR_MAX_CALLS_PER_SECOND": "10",
    "OCR_FIT_IMAGES": "true", "OCR_MAX_PDF_PAGES": "50", "OCR_CONNECT_TIMEOUT_S": "3",
    "OCR_READ_TIMEOUT_S": "20", "OCR_MAX_ATTEMPTS": "4", "OCR_MAX_DELIVERIES": "4",
    "OCR_DEADLINE_S": "60", "OCR_MEMORY_MB": "512", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "RUNTIME_MEMORY": "512",
    "OCR_URL_ALLOWED_HOSTS": '[".obs.cn-north-4.myhuaweicloud.com"]',
    "OCRFLOW_STATE_DIR": "state", "OCR_CATALOGUE_CHECK": "strict",
    "OCR_METRICS": "ces", "CES_ENDPOINT": "https://ces.{region}.myhuaweicloud.com",
    "OCR_METRICS_NAMESPACE": "OCRFLOW.OCR",
    "OCR_REVIEW_BELOW": '{"general-text": 0.8}', "OCR_PRICE_PER_UNIT": '{"general-text": 0.0035}',
}
VARIABLES = sorted(name for names in ENV.values() for name in names)
FIELD_OF = {name: field for field, names in ENV.items() for name in names}
#: What breaks parsers, headers and paths: brackets, delimiters, encodings, line ends,
#: controls, characters NFKC turns into delimiters, a lone surrogate (an undecodable byte).
PIECES = ["[", "]", "[::1]", "\r\n", "\n", "\r", "\t", " ", "\x00", "\x1b", "\x7f", "\x85",
          "\u2028", "\u2029", "%", "%2F", "%zz", "#", "?", "@", ":", ":99999", "/", "//", "\\",
          "{", "}", "{region}", "é", "\uff0f", "\u2100", "\udcff", ",", "=", ";", "..", "\ufeff"]


def values(name: str) -> st.SearchStrategy[str]:
    anything = st.lists(st.text(st.characters(exclude_characters="\x00"), max_size=6)
                        | st.sampled_from(PIECES), max_size=10).map("".join)
    return st.one_of(spliced(EXAMPLES[name], PIECES, reach=200), anything)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True, scope="module")
def _forget_secrets() -> Iterator[None]:
    yield
    redact.forget()


def base_env(state: Path, name: str) -> dict[str, str]:
    env = {"OCRFLOW_STATE_DIR": str(state)}
    if name.startswith("HUAWEICLOUD_SDK_"):  # AK and SK go together: the other one is good
        env.update(HUAWEICLOUD_SDK_AK=EXAMPLES["HUAWEICLOUD_SDK_AK"],
                   HUAWEICLOUD_SDK_SK=EXAMPLES["HUAWEICLOUD_SDK_SK"])
    return env


def usable(settings: Any, name: str) -> None:
    """What a taken value is used for works."""
    field = FIELD_OF[name]
    settings.queue_url("result"), settings.idempotency_url, settings.object_store_scheme
    if field == "endpoint":
        requests.Request("POST", settings.endpoint_for("cn-north-4") + "/v2/p/ocr/general-text",
                         data=b"{}").prepare()
    if field == "ces_endpoint":
        requests.Request("POST", settings.ces_endpoint.replace("{region}", "cn-north-4")
                         + "/V1.0/p/metric-data", data=b"[]").prepare()
    if field in ("ak", "sk", "security_token") and settings.ak:
        headers = sign("POST", "https://ocr.cn-north-4.myhuaweicloud.com/v2/p/ocr/general-text",
                       {"Content-Type": "application/json"}, b"{}",
                       Credentials(settings.ak, settings.sk, settings.security_token))
        for header in headers.items():
            requests.utils.check_header_validity(header)
            header[1].encode("latin-1")
    if field == "iam_token" and settings.iam_token:
        requests.utils.check_header_validity(("X-Auth-Token", settings.iam_token))
        settings.iam_token.encode("latin-1")


@pytest.mark.parametrize("name", VARIABLES)
@settings(max_examples=40)
@given(data=st.data())
def test_a_value_is_taken_and_usable_or_refused_naming_its_variable(
        state: Path, name: str, data: st.DataObject) -> None:
    value = data.draw(values(name), label=name)
    env = {**base_env(state, name), name: value}
    try:
        try:
            taken = load_settings(env)
        except ConfigError as exc:
            assert exc.variable == name, (exc.variable, str(exc))
            if FIELD_OF[name] in SECRET_FIELDS and len(value.strip()) >= 4:
                assert value.strip() not in str(exc)
            return
        usable(taken, name)
    finally:
        redact.forget()


@settings(max_examples=150)
@given(st.lists(st.text(st.characters(exclude_characters="\x00/"), max_size=4) | st.sampled_from(
    ["?", "#", "%", "%2F", "%25", " ", "\n", "\u2028", "\udcff", "é", "年"]), min_size=1,
    max_size=8).map("".join).filter(bool))
def test_the_state_folder_is_a_path_whatever_it_holds(state: Path, name: str) -> None:
    """'?', '#' and '%2F' are ordinary characters of a folder name: the embedded queue and
    store are made in exactly that folder, never blamed on RESULT_QUEUE_URL."""
    value = str(state / name)
    folder = Path(value.strip())  # as every variable, read without surrounding blanks
    try:
        taken = load_settings({"OCRFLOW_STATE_DIR": value})
    except ConfigError as exc:
        assert exc.variable == "OCRFLOW_STATE_DIR"
        assert not str(folder).isprintable()
        return
    assert str(folder).isprintable()
    for url, file in ((taken.queue_url("result"), "queues.db"),
                      (taken.queue_url("failure"), "queues.db"),
                      (taken.idempotency_url, "idempotency.db")):
        path, _ = parse_sqlite_url(url, "test")
        assert path == folder / file
