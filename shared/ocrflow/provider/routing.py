"""Routing: which OCR API (with which options) an object goes to.

``OCR_ROUTES`` is a JSON list of rules, tried in order; the first whose conditions all hold
wins. A rule without conditions matches everything (a catch-all). When none matches, the
object goes to ``general-text``.

    [{"prefix": "invoices/", "suffix": [".pdf", ".jpg"], "api": "vat-invoice"},
     {"metadata": {"doc-type": "mixed"}, "api": "auto-classification"},
     {"prefix": "cards/", "api": "id-card", "options": {"side": "front"}},
     {"api": "general-text", "options": {"detect_direction": true}}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Callable

    from .catalogue import Catalogue

DEFAULT_API = "general-text"


class RouteRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api: str
    prefix: str | None = None
    suffix: list[str] | None = None
    metadata: dict[str, str] | None = None
    options: dict[str, Any] = Field(default_factory=lambda: {})  # not dict: see config.Settings
    #: "image" sends the file's bytes; "url" lets the service fetch the object itself from
    #: ``url_template`` (``{bucket}``, ``{key}``, ``{region}``), an allow-listed HTTPS host.
    input: Literal["image", "url"] = "image"
    url_template: str | None = None

    @property
    def needs_metadata(self) -> bool:
        return bool(self.metadata)

    def matches(self, key: str, metadata: dict[str, str] | None) -> bool:
        if self.prefix is not None and not key.startswith(self.prefix):
            return False
        if self.suffix is not None and not key.lower().endswith(tuple(s.lower() for s in self.suffix)):
            return False
        if self.metadata:
            meta = {k.lower(): v for k, v in (metadata or {}).items()}
            for name, expected in self.metadata.items():
                if meta.get(name.lower()) != expected:
                    return False
        return True


def rule_problems(rule: RouteRule, known_apis: set[str],
                  unsupported: dict[str, str] | None = None) -> list[str]:
    """What is wrong with a rule beyond its types (checked once, at start)."""
    problems = []
    if rule.api in (unsupported or {}):
        problems.append(f"API {rule.api!r} is not supported: {(unsupported or {})[rule.api]}")
    elif rule.api not in known_apis:
        problems.append(f"unknown API {rule.api!r}")
    clash = {"image", "url", "data"} & set(rule.options)
    if clash:
        problems.append(f"options may not set {sorted(clash)}: the file is sent by ocrflow")
    if rule.input == "url" and not rule.url_template:
        problems.append("input 'url' needs url_template, e.g. "
                        "https://{bucket}.obs.cn-north-4.myhuaweicloud.com/{key}")
    return problems


@dataclass(frozen=True)
class Choice:
    api: str
    options: dict[str, Any] = field(default_factory=dict)
    input: str = "image"
    url_template: str | None = None


@dataclass
class Route:
    rules: list[RouteRule]

    @property
    def needs_metadata(self) -> bool:
        return any(r.needs_metadata for r in self.rules)

    def apis(self) -> list[str]:
        """Every API a record can be routed to (the default too, unless a catch-all rule
        comes first)."""
        out: list[str] = []
        for rule in self.rules:
            if rule.api not in out:
                out.append(rule.api)
            if rule.prefix is None and rule.suffix is None and not rule.metadata:
                return out
        if DEFAULT_API not in out:
            out.append(DEFAULT_API)
        return out

    def choose(self, key: str, metadata: dict[str, str] | None = None) -> Choice:
        for rule in self.rules:
            if rule.matches(key, metadata):
                return Choice(rule.api, dict(rule.options), rule.input, rule.url_template)
        return Choice(DEFAULT_API, {})


@dataclass(frozen=True)
class RegionProblem:
    api: str
    region: str
    problem: str
    withdrawn: bool = False


def option_problems(rules: list[RouteRule], catalogue: Catalogue) -> list[str]:
    """Route options that the API's official request body does not have (a typo, or an
    option of another API): the service would refuse or ignore them."""
    out = []
    for i, rule in enumerate(rules):
        limits = catalogue.apis.get(rule.api)
        if limits is None:
            continue
        unknown = sorted(set(rule.options) - limits.options - {"image", "url", "data"})
        if unknown:
            takes = ", ".join(sorted(limits.options)) or "no options"
            out.append(f"{rule.api} has no option {', '.join(unknown)} in its official request "
                       f"body (it takes {takes}) (at {i})")
    return out


def region_problems(route: Route, region_for: Callable[[str], str],
                    catalogue: Catalogue) -> list[RegionProblem]:
    """Each routed API whose region (``OCR_API_REGIONS``, else ``OCR_REGION``) the official
    endpoint tables do not list it in, or which was withdrawn: checked once, at start."""
    out = []
    for api in route.apis():
        if api not in catalogue.apis:
            continue  # reported as an unknown API
        region = region_for(api)
        problem = catalogue.region_problem(api, region)
        if problem is not None:
            out.append(RegionProblem(api, region, problem,
                                     catalogue.apis[api].withdrawn is not None))
    return out
