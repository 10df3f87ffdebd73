"""Configuration: one pydantic model read from the environment and validated once.

A bad value stops the start with :class:`~ocrflow.core.errors.ConfigError`, whose message names
the variable and says what is expected. Everything is checked here, once, before any record:
numbers are finite and within sane bounds, JSON values are bounded in size and depth, and
every URL is parsed by the adapter that will use it, without connecting
(:mod:`ocrflow.config.urls`). Secrets are registered for redaction before anything is checked,
so no message can quote them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core import boundedjson, redact
from ..core.errors import ConfigError
from ..observability.metrics import (
    DEFAULT_CES_ENDPOINT,
    DEFAULT_CES_NAMESPACE,
    MetricsMode,
    namespace_problem,
)
from ..provider import catalogue, urlmode
from ..provider.confidence import review_problem
from ..provider.routing import (
    RegionProblem,
    Route,
    RouteRule,
    option_problems,
    region_problems,
    rule_problems,
)
from ..provider.usage import price_problem
from . import urls

# field name -> environment variables, first one set wins
ENV: dict[str, tuple[str, ...]] = {
    "project_id": ("OCR_PROJECT_ID", "HUAWEICLOUD_SDK_PROJECT_ID"),
    "region": ("OCR_REGION",),
    "api_regions": ("OCR_API_REGIONS",),
    "project_ids": ("OCR_PROJECT_IDS",),
    "endpoint": ("OCR_ENDPOINT",),
    "ak": ("HUAWEICLOUD_SDK_AK",),
    "sk": ("HUAWEICLOUD_SDK_SK",),
    "security_token": ("HUAWEICLOUD_SDK_SECURITY_TOKEN",),
    "iam_token": ("OCR_IAM_TOKEN",),
    "credentials_secret": ("HUAWEICLOUD_SDK_SECRET_ARN",),
    "routes": ("OCR_ROUTES",),
    "result_queue_url": ("RESULT_QUEUE_URL",),
    "failure_queue_url": ("FAILURE_QUEUE_URL",),
    "object_store_url": ("OBJECT_STORE_URL",),
    "claim_check_url": ("CLAIM_CHECK_URL",),
    "idempotency_store_url": ("IDEMPOTENCY_STORE_URL",),
    "idempotency_ttl_s": ("IDEMPOTENCY_TTL_S",),
    "service_name": ("POWERTOOLS_SERVICE_NAME",),
    "log_level": ("POWERTOOLS_LOG_LEVEL",),
    "metrics_namespace": ("POWERTOOLS_METRICS_NAMESPACE",),
    "max_concurrency": ("OCR_MAX_CONCURRENCY",),
    # the platforms' own, in MB: Lambda's, and FunctionGraph's preset variable (its page
    # "Configuring Environment Variables", functiongraph_01_0154)
    "memory_mb": ("OCR_MEMORY_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "RUNTIME_MEMORY"),
    "max_calls_per_day": ("OCR_MAX_CALLS_PER_DAY",),
    "max_calls_per_second": ("OCR_MAX_CALLS_PER_SECOND",),
    "fit_images": ("OCR_FIT_IMAGES",),
    "max_pdf_pages": ("OCR_MAX_PDF_PAGES",),
    "connect_timeout_s": ("OCR_CONNECT_TIMEOUT_S",),
    "read_timeout_s": ("OCR_READ_TIMEOUT_S",),
    "max_attempts": ("OCR_MAX_ATTEMPTS",),
    "max_deliveries": ("OCR_MAX_DELIVERIES",),
    "deadline_s": ("OCR_DEADLINE_S",),
    "url_allowed_hosts": ("OCR_URL_ALLOWED_HOSTS",),
    "state_dir": ("OCRFLOW_STATE_DIR",),
    "catalogue_check": ("OCR_CATALOGUE_CHECK",),
    "metrics": ("OCR_METRICS",),
    "ces_endpoint": ("CES_ENDPOINT",),
    "ces_namespace": ("OCR_METRICS_NAMESPACE",),
    "review_below": ("OCR_REVIEW_BELOW",),
    "price_per_unit": ("OCR_PRICE_PER_UNIT",),
}
JSON_FIELDS = {"api_regions", "project_ids", "routes", "url_allowed_hosts", "max_calls_per_second",
               "review_below", "price_per_unit"}
#: Fields whose whole value is a secret, and fields that are URLs which may carry one.
SECRET_FIELDS = ("ak", "sk", "security_token", "iam_token")
URL_FIELDS = ("endpoint", "result_queue_url", "failure_queue_url", "object_store_url",
              "claim_check_url", "idempotency_store_url")
#: A JSON variable is a few rules or names; these bounds are far above any real one.
MAX_JSON_CHARS = 64 * 1024
MAX_JSON_DEPTH = 8
#: Longest accepted for a timeout or deadline: a FunctionGraph function runs at most 12 hours.
MAX_SECONDS = 12 * 3600
MAX_RETENTION_S = 10 * 366 * 24 * 3600
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
#: Names that go into every log line and metric: anything printable, on one line.
_NAME = r"^[^\x00-\x1f\x7f]{1,255}$"


def default_state_dir() -> str:
    """Where the embedded sqlite files live: ``./.ocrflow`` for local runs, ``/tmp`` on a
    function platform whose code folder is read-only."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("RUNTIME_CODE_ROOT"):
        return "/tmp/.ocrflow"  # noqa: S108 - the only writable place on the platforms
    return str(Path.cwd() / ".ocrflow")


def on_functiongraph() -> bool:
    """FunctionGraph sets ``RUNTIME_CODE_ROOT`` (the code folder) among the preset variables
    of every function's environment; Lambda never does."""
    return bool(os.environ.get("RUNTIME_CODE_ROOT")) and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME")


def default_metrics() -> MetricsMode:
    """Cloud Eye on FunctionGraph, where EMF lines mean nothing; EMF elsewhere."""
    return "ces" if on_functiongraph() else "emf"


class Settings(BaseModel):
    # Empty defaults come from lambdas, not ``dict``/``list``: pydantic inspects a factory's
    # signature, and for a builtin that parses its text signature with the tokenizer, whose
    # regular expression costs ~2 ms of every cold start to compile.
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: goes into the request path: letters, digits, '_' and '-' only
    project_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    region: str = "cn-north-4"
    api_regions: dict[str, str] = Field(default_factory=lambda: {})
    #: project id per region, for APIs bought in regions other than the default one
    project_ids: dict[str, str] = Field(default_factory=lambda: {})
    endpoint: str = Field(default="https://ocr.{region}.myhuaweicloud.com", pattern=r"^https?://")
    ak: str | None = Field(default=None, repr=False)
    sk: str | None = Field(default=None, repr=False)
    security_token: str | None = Field(default=None, repr=False)
    iam_token: str | None = Field(default=None, repr=False)
    credentials_secret: str | None = None
    routes: list[RouteRule] = Field(default_factory=lambda: [])
    result_queue_url: str | None = None
    failure_queue_url: str | None = None
    object_store_url: str = "s3://"
    claim_check_url: str | None = None
    idempotency_store_url: str | None = None
    idempotency_ttl_s: float = Field(default=7 * 24 * 3600, ge=60, le=MAX_RETENTION_S,
                                     allow_inf_nan=False)
    service_name: str = Field(default="ocrflow", pattern=_NAME)
    log_level: LogLevel = "INFO"
    metrics_namespace: str = Field(default="ocrflow", pattern=_NAME)
    max_concurrency: int = Field(default=8, ge=1, le=256)
    #: the memory the function has (MB): what the records of a batch may hold at once is
    #: derived from it (see ocrflow.documents.upload.records_memory)
    memory_mb: int = Field(default=512, ge=128, le=65536)
    max_calls_per_day: int | None = Field(default=None, ge=0, le=10**9)
    #: fleet-wide, per API and region: one number for every API, or {"api": n}
    max_calls_per_second: float | dict[str, float] | None = None
    #: resize / re-encode an image the API would refuse for its size, sides or format
    fit_images: bool = True
    #: a longer PDF is refused before any call (each page is one paid call)
    max_pdf_pages: int = Field(default=50, ge=1, le=1000)
    connect_timeout_s: float = Field(default=3.05, gt=0, le=300, allow_inf_nan=False)
    read_timeout_s: float = Field(default=20.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    #: HTTP attempts of one OCR call within one delivery, the first included
    max_attempts: int = Field(default=4, ge=1, le=10)
    #: deliveries of one record that may end without a message — throttled, in an
    #: unexpected error, or without a word (killed, timed out), each counted on its own —
    #: before the last (for the killed, the next) publishes the failure; below the
    #: platform's redelivery limit (SQS maxReceiveCount, 5 in the template)
    max_deliveries: int = Field(default=4, ge=1, le=100)
    deadline_s: float = Field(default=60.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    url_allowed_hosts: list[str] = Field(default_factory=lambda: [])
    state_dir: str = Field(default_factory=default_state_dir)
    #: "strict": a routed API whose region's endpoint table does not list it stops the
    #: start; "warn": a warning at start, and the call is made anyway
    catalogue_check: catalogue.CatalogueCheck = "strict"
    #: where the usage metrics go: "emf" lines, Cloud Eye ("ces") or nowhere ("none")
    metrics: MetricsMode = Field(default_factory=default_metrics)
    #: Cloud Eye's endpoint; ``{region}`` is OCR_REGION
    ces_endpoint: str = Field(default=DEFAULT_CES_ENDPOINT, pattern=r"^https?://")
    ces_namespace: str = DEFAULT_CES_NAMESPACE
    #: a result whose least confidence is below this carries ``ocrreview``: one number for
    #: every API, or {"api": n}
    review_below: float | dict[str, float] | None = None
    #: the user's own price per billed unit, {"api": price}, for the cost estimate of a run
    price_per_unit: dict[str, float] | None = None

    # --- derived -----------------------------------------------------------------------
    def region_for(self, api: str) -> str:
        """The region where ``api``'s package was bought (the one place that decides it)."""
        return self.api_regions.get(api, self.region)

    def project_for(self, region: str) -> str | None:
        return self.project_ids.get(region, self.project_id)

    def endpoint_for(self, region: str) -> str:
        return self.endpoint.rstrip("/").replace("{region}", region)

    def queue_url(self, which: str) -> str:
        explicit = self.result_queue_url if which == "result" else self.failure_queue_url
        if explicit:
            return explicit
        name = "results" if which == "result" else "failures"
        return f"{self._state_file('queues.db')}?queue={name}"

    @property
    def idempotency_url(self) -> str:
        return self.idempotency_store_url or self._state_file("idempotency.db")

    def _state_file(self, name: str) -> str:
        # percent-encoded: a folder named with '?', '#' or '%2F' is that folder, not a query,
        # a fragment or another path
        return f"sqlite:///{quote(str(Path(self.state_dir) / name))}"

    @property
    def object_store_scheme(self) -> str:
        """``file``, ``s3`` or ``obs``: which bucket naming rules apply."""
        return urlsplit(self.object_store_url).scheme.lower()

    @property
    def routing(self) -> Route:
        return Route(self.routes)


def _env_value(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return name, value
    return None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Reads the settings from ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    found_values = {field: _env_value(env, names) for field, names in ENV.items()}
    for field in SECRET_FIELDS + URL_FIELDS:  # before any check, so no message can quote them
        found = found_values[field]
        for value in (found[1] if found else None, overrides.get(field)):
            if isinstance(value, str):
                (redact.register if field in SECRET_FIELDS else redact.register_url)(value)
    raw: dict[str, Any] = {}
    source: dict[str, str] = {}
    for field, found in found_values.items():
        if found is None:
            continue
        name, value = found
        source[field] = name
        if field in JSON_FIELDS:
            try:
                raw[field] = boundedjson.loads(value, MAX_JSON_CHARS, MAX_JSON_DEPTH)
            except boundedjson.JsonRejected as exc:
                raise ConfigError(name, f"is not valid JSON within bounds: {exc.reason}") from None
        else:
            raw[field] = value.strip()
    raw.update(overrides)
    from ..adapters.ratelimit import limits_problem

    for field, check in (("max_calls_per_second", limits_problem), ("review_below", review_problem),
                         ("price_per_unit", price_problem)):  # before pydantic's union messages
        if problem := check(raw.get(field)):
            raise ConfigError(source.get(field, ENV[field][0]), problem)
    for field in SECRET_FIELDS:
        if isinstance(raw.get(field), str) and (problem := credential_problem(field, raw[field])):
            raise ConfigError(source.get(field, ENV[field][0]), problem)
    if isinstance(raw.get("state_dir"), str) and (problem := path_problem(raw["state_dir"])):
        raise ConfigError(source.get("state_dir", ENV["state_dir"][0]), problem)
    if bool(raw.get("ak")) != bool(raw.get("sk")):
        missing = "HUAWEICLOUD_SDK_SK" if raw.get("ak") else "HUAWEICLOUD_SDK_AK"
        raise ConfigError(missing, "must be set together with its pair (AK and SK)")
    if isinstance(raw.get("log_level"), str):
        raw["log_level"] = raw["log_level"].upper()
    if isinstance(raw.get("catalogue_check"), str):
        raw["catalogue_check"] = raw["catalogue_check"].lower()
    if isinstance(raw.get("metrics"), str):
        raw["metrics"] = raw["metrics"].lower()
    if isinstance(raw.get("routes"), list):  # "suffix": ".pdf" is short for [".pdf"]
        raw["routes"] = [dict(r, suffix=[r["suffix"]]) if isinstance(r, dict) and isinstance(
            r.get("suffix"), str) else r for r in raw["routes"]]
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else ""
        variable = source.get(field) or (ENV[field][0] if field in ENV else "configuration")
        where = "" if len(loc) <= 1 else f" (at {'.'.join(loc[1:])})"
        message = err["msg"].removeprefix("Value error, ")
        if field == "endpoint" and err["type"] == "string_pattern_mismatch":
            message = "expected an http(s) URL template such as https://ocr.{region}.myhuaweicloud.com"
        if field == "ces_endpoint" and err["type"] == "string_pattern_mismatch":
            message = "expected an http(s) URL template such as https://ces.{region}.myhuaweicloud.com"
        got = raw.get(field, None)
        secret = field in SECRET_FIELDS
        shown = "" if secret or got is None else f"; got {_shown(got)!r}"
        raise ConfigError(variable, f"{message}{where}{shown}") from None
    _check(settings, source)
    return settings


def credential_problem(field: str, value: str) -> str | None:
    """Why ``value`` cannot be an AK, SK or token, or None. The AK and the tokens travel in
    HTTP headers (``Authorization: … Access=AK, …``, ``X-Security-Token``, ``X-Auth-Token``)
    and the SK keys the signature: each is visible ASCII, as the provider issues them. A line
    break would end the header (every call then fails in transport), a non-ASCII character
    cannot be sent in one. The value itself is never quoted."""
    for i, char in enumerate(value, 1):
        if char in "\r\n":
            return f"character {i} is a line break, which an HTTP header cannot carry"
        if not char.isascii():
            return (f"character {i} is not ASCII: credentials and tokens are sent in HTTP "
                    "headers and signed as ASCII")
        if not char.isprintable() or char.isspace():
            return (f"character {i} is a control character or a space, which a credential "
                    "does not hold")
    if field == "ak" and "," in value:
        return "an access key has no ',' (it would end the Access field of the signature header)"
    return None


def path_problem(folder: str) -> str | None:
    """Why ``folder`` cannot be the state folder (a path, not a URL: '?', '#' and '%' are
    ordinary characters in it), or None."""
    if not folder.isprintable():
        return "the path holds a control character or another non-printable character"
    try:
        folder.encode("utf-8")
    except UnicodeEncodeError:
        return "the path is not valid UTF-8"
    return None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:200]
    return text[:80]


def _check(settings: Settings, source: dict[str, str]) -> None:
    """Checks against the catalogue and of every URL, done once at start (plain code:
    cheaper to import than pydantic validators, and the messages say exactly what is
    expected)."""
    cat = catalogue.load()

    def var(field: str) -> str:
        return source.get(field, ENV[field][0])

    if settings.region not in cat.regions:
        raise ConfigError(var("region"), f"unknown region {settings.region!r}; expected one of "
                          f"{', '.join(catalogue.KNOWN_REGIONS)}")
    for api, region in settings.api_regions.items():
        if api not in cat.apis:
            raise ConfigError(var("api_regions"), f"unknown API {api!r}")
        if region not in cat.regions:
            raise ConfigError(var("api_regions"), f"unknown region {region!r} for {api!r}")
    for region, project in settings.project_ids.items():
        if region not in cat.regions:
            raise ConfigError(var("project_ids"), f"unknown region {region!r}")
        if not project or not all(c.isascii() and (c.isalnum() or c in "_-") for c in project):
            raise ConfigError(var("project_ids"), f"the project id for {region} must be letters, "
                                                  "digits, '_' and '-'")
    for entry in settings.url_allowed_hosts:
        try:
            urlmode.parse_allowed(entry)
        except ValueError as exc:
            raise ConfigError(var("url_allowed_hosts"), f"{exc}; expected host names such as "
                              "\"bucket.obs.cn-north-4.myhuaweicloud.com\" or "
                              "\".obs.cn-north-4.myhuaweicloud.com\"") from None
    for i, rule in enumerate(settings.routes):
        problems = rule_problems(rule, set(cat.apis), cat.unsupported)
        if rule.input == "url" and rule.url_template:
            problem = urlmode.template_problem(rule.url_template)
            if problem is not None:
                problems.append(problem)
            if not settings.url_allowed_hosts:
                problems.append("input 'url' needs OCR_URL_ALLOWED_HOSTS")
        if problems:
            raise ConfigError(var("routes"), f"{problems[0]} (at {i})")
    from ..adapters.ratelimit import limits_problem

    for field, check in (("max_calls_per_second", limits_problem), ("review_below", review_problem),
                         ("price_per_unit", price_problem)):
        if problem := check(getattr(settings, field), set(cat.apis)):
            raise ConfigError(var(field), problem)
    if settings.catalogue_check == "strict":
        unknown_options = option_problems(settings.routes, cat)
        if unknown_options:
            raise ConfigError(var("routes"),
                              unknown_options[0] + "; OCR_CATALOGUE_CHECK=warn sends them anyway")
        found = region_problems(settings.routing, settings.region_for, cat)
        if found:
            variable = var("routes") if found[0].withdrawn else var("api_regions")
            raise ConfigError(variable, region_message(found[0], settings))
    _check_endpoint(settings.endpoint, var("endpoint"))
    _check_metrics(settings, var)
    for field in ("result_queue_url", "failure_queue_url"):
        url = getattr(settings, field)
        if url:
            urls.queue(url, var(field))
    store_scheme = urls.object_store(settings.object_store_url, var("object_store_url"))
    if settings.claim_check_url:
        urls.claim_check(settings.claim_check_url, var("claim_check_url"), store_scheme)
    if settings.idempotency_store_url:
        urls.idempotency_store(settings.idempotency_store_url, var("idempotency_store_url"))
    if not (settings.result_queue_url and settings.failure_queue_url
            and settings.idempotency_store_url):
        urls.writable_folder(Path(settings.state_dir), var("state_dir"))


def _check_endpoint(template: str, variable: str) -> None:
    """The endpoint as the HTTP client will read it, for every region it may be formatted
    with: ``{region}`` is its only placeholder, and no ``user:password@`` (requests would
    turn it into basic authentication instead of the signature)."""
    url = template.rstrip("/").replace("{region}", "cn-north-4")
    if "{" in url or "}" in url:
        raise ConfigError(variable, "{region} is the only placeholder of the endpoint template")
    urls.http_endpoint(url, variable)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ConfigError(variable, "the endpoint template may carry a path prefix but no query "
                                    "or fragment")


def _check_metrics(settings: Settings, var: Callable[[str], str]) -> None:
    """The Cloud Eye endpoint and namespace, checked even when another sink is chosen, so
    that switching ``OCR_METRICS`` to ``ces`` cannot reveal a bad value only later."""
    _check_endpoint(settings.ces_endpoint, var("ces_endpoint"))
    problem = namespace_problem(settings.ces_namespace)
    if problem is not None:
        raise ConfigError(var("ces_namespace"), f"{problem}; got {settings.ces_namespace[:80]!r}")


def region_message(found: RegionProblem, settings: Settings) -> str:
    """The one start-time message for an API routed where the official tables do not list
    it: names the API, the region, where it is offered and the way out."""
    if found.withdrawn:
        return f"{found.problem}; route its files to another API in OCR_ROUTES"
    text = (f"{found.problem}. Set OCR_API_REGIONS to "
            f'{{"{found.api}": "<region where its package was bought>"}} (now {found.api} '
            f"goes to {found.region})")
    if settings.catalogue_check == "strict":
        text += ", or OCR_CATALOGUE_CHECK=warn to call anyway if the endpoint tables are behind"
    return text


def catalogue_warnings(settings: Settings) -> list[str]:
    """With ``OCR_CATALOGUE_CHECK=warn``: what ``strict`` would have stopped the start for."""
    if settings.catalogue_check != "warn":
        return []
    cat = catalogue.load()
    return option_problems(settings.routes, cat) + [
        region_message(p, settings) for p in region_problems(settings.routing, settings.region_for, cat)]
