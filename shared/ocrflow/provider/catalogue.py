"""Which OCR API is deployed in which region, and what each API accepts.

The table is data (``data/catalogue.json``) taken from the official sources: the API paths,
body fields and per-API limits from the official SDK (``huaweicloudsdkocr``, its request
models and their ``:param image:`` docstrings), the region lists from the endpoint tables of
the API reference (page ``ocr_03_0062``, China and international sites). Every region list
names the table it was read from and when; where two tables disagree, both are kept and
either one is enough for a region to count as offering the API.

It is shared by the client (refuse before paying, explain a provider refusal) and the
emulator (answer like the service); the contract tests keep it honest against the SDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

KNOWN_REGIONS = (
    "cn-north-4", "cn-north-1", "cn-east-3", "cn-south-1", "cn-southwest-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "af-south-1", "la-south-2",
    "la-north-2",
)
#: Provider answers that mean "wrong region or path": their failures say where the API is.
WRONG_PLACE_CODES = frozenset({"ModelArts.4204", "APIG.0307", "APIG.0101"})
CatalogueCheck = Literal["strict", "warn"]


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str
    read: str  # the date it was read, YYYY-MM-DD
    #: a page that adds to the endpoint tables what they lack, not a table of its own: an API
    #: it does not list in a region is no disagreement
    partial: bool = False

    def cite(self) -> str:
        return f"{self.title}, {self.url}, read {self.read}"


@dataclass(frozen=True)
class Withdrawal:
    date: str
    source: str


@dataclass(frozen=True)
class ApiLimits:
    """What one API accepts, as its official request model documents it."""

    name: str
    #: "image" or "data" (base64 file), or "json" (invoice-verification: fields, no file)
    body_field: str
    formats: frozenset[str]
    min_side: int
    max_side: int
    max_pixels: int | None
    #: the body field that picks a PDF page ("pdf_page_number", "page_num"), or None
    page_field: str | None = None
    text: bool = False  # a plain text-recognition API (the emulator truly recognizes these)
    #: "per_call", or "per_document" (auto-classification bills each document it recognizes)
    billing: str = "per_call"
    withdrawn: Withdrawal | None = None
    source: str = "sdk"
    #: the other fields of the official request body (what a route's options may set)
    options: frozenset[str] = frozenset()
    #: the source id of an API page that says a PDF is read by its first page only, whatever
    #: page field the SDK has (then each page travels alone, as a one-page PDF)
    first_page_only: str | None = None

    @property
    def page_picker(self) -> str | None:
        """The body field that makes the API read a given page of a PDF: its page field,
        unless its page says it reads the first page whatever the field holds."""
        return self.page_field if self.first_page_only is None else None

    @property
    def takes_file(self) -> bool:
        return self.body_field in ("image", "data")

    @property
    def takes_pdf(self) -> bool:
        return "pdf" in self.formats

    @property
    def takes_ofd(self) -> bool:
        return "ofd" in self.formats

    @property
    def takes_pdf_page_number(self) -> bool:
        return self.page_field == "pdf_page_number"

    def fits(self, width: int, height: int) -> bool:
        """Whether an image of ``width``×``height`` is inside this API's documented limits."""
        return (min(width, height) >= self.min_side and max(width, height) <= self.max_side
                and (self.max_pixels is None or width * height <= self.max_pixels))

    def describe_limits(self) -> str:
        text = f"sides {self.min_side}–{self.max_side} px"
        if self.max_pixels:
            text += f", at most {self.max_pixels:,} pixels"
        return text


@dataclass(frozen=True)
class ProviderCode:
    """What the provider's error tables say of one of its codes, beyond the SDK (which has
    none)."""

    code: str
    source: str
    #: HTTP status → meaning, for a code the gateway gives with several statuses
    statuses: dict[int, str] = field(default_factory=dict)
    #: the wait the table advises before a retry (a retry now would meet the same answer)
    retry_after_s: int | None = None


@dataclass(frozen=True)
class Catalogue:
    apis: dict[str, ApiLimits]
    #: region → the APIs any endpoint table lists there (the union of the tables)
    regions: dict[str, frozenset[str]]
    max_image_base64_bytes: int
    max_body_bytes: int
    #: region → source id → the APIs that table lists there
    region_sources: dict[str, dict[str, frozenset[str]]]
    sources: dict[str, Source]
    #: official paths deliberately not routable, with why
    unsupported: dict[str, str]
    #: provider error codes whose tables say more than their code
    provider_codes: dict[str, ProviderCode] = field(default_factory=dict)

    def limits(self, api: str) -> ApiLimits:
        return self.apis[api]

    def offers(self, region: str, api: str) -> bool:
        return api in self.regions.get(region, frozenset())

    def regions_offering(self, api: str) -> list[str]:
        return [r for r, apis in self.regions.items() if api in apis]

    def listed_by(self, region: str, api: str) -> list[Source]:
        """The tables that list ``api`` in ``region``."""
        return [self.sources[s] for s, apis in self.region_sources.get(region, {}).items()
                if api in apis]

    def disagreements(self) -> list[tuple[str, str, list[str], list[str]]]:
        """(region, api, tables listing it, tables of that region not listing it)."""
        out = []
        for region, tables in self.region_sources.items():
            if len(tables) < 2:
                continue
            for api in sorted(self.regions[region]):
                yes = [s for s, apis in tables.items() if api in apis]
                no = [s for s, apis in tables.items()
                      if api not in apis and not self.sources[s].partial]
                if no:
                    out.append((region, api, yes, no))
        return out

    @property
    def max_file_bytes(self) -> int:
        # base64 grows 4/3: the largest raw file whose encoding fits the limit.
        return self.max_image_base64_bytes // 4 * 3

    # --- the region policy ---------------------------------------------------------------
    def where_offered(self, api: str) -> str:
        offered = self.regions_offering(api)
        if offered:
            return "offered in " + ", ".join(offered)
        return "listed in no region's endpoint table"

    def region_problem(self, api: str, region: str) -> str | None:
        """Why calling ``api`` in ``region`` cannot work as the official tables stand, or
        None when it can."""
        limits = self.apis.get(api)
        if limits is not None and limits.withdrawn is not None:
            return f"{api} was withdrawn by the provider ({limits.withdrawn.date})"
        if not self.offers(region, api):
            return (f"{api} is not listed for {region} in the official endpoint tables; "
                    f"{api} is {self.where_offered(api)}")
        return None

    def refusal_code(self, api: str, region: str, check: CatalogueCheck) -> tuple[str, str] | None:
        """(OCRFLOW code, message) when a record for ``api`` in ``region`` must not be sent.

        A withdrawn API is refused in either mode (the provider took it offline); a region
        the tables do not list only in ``strict`` mode: with ``warn`` the call is made and
        a refusal arrives as the provider's own code."""
        limits = self.apis.get(api)
        if limits is not None and limits.withdrawn is not None:
            return ("OCRFLOW.API_WITHDRAWN",
                    f"{api} was withdrawn by the provider on {limits.withdrawn.date}; "
                    "route these files to another API")
        if check == "strict" and not self.offers(region, api):
            return ("OCRFLOW.API_NOT_IN_REGION",
                    f"{api} is not offered in {region} ({self.where_offered(api)}); set "
                    "OCR_API_REGIONS to the region where its package was bought")
        return None

    def explain_provider_refusal(self, code: str, api: str, region: str) -> str | None:
        """What a wrong-region or wrong-path answer means for this call, or None for other
        codes."""
        if code not in WRONG_PLACE_CODES:
            return None
        where = self.where_offered(api)
        if code == "ModelArts.4204":
            what = f"{api} is not enabled for this account in {region}, the region called"
        elif code == "APIG.0307":
            what = (f"the credentials were refused by {region}, the region called (a token "
                    "of another region is refused this way)")
        else:
            what = f"the {region} gateway does not know {api}, the path called"
        return (f"{what}; {api} is {where}. Set OCR_API_REGIONS so that {api} is called in "
                "the region where its package was bought")


def _parse(doc: dict[str, Any]) -> Catalogue:
    sources = {sid: Source(sid, s["title"], s["url"], s["read"], s.get("partial", False))
               for sid, s in doc["sources"].items()}
    apis: dict[str, ApiLimits] = {}
    for name, spec in doc["apis"].items():
        withdrawn = spec.get("withdrawn")
        apis[name] = ApiLimits(
            name=name,
            body_field=spec["body"],
            formats=frozenset(spec["formats"]),
            min_side=spec["min_side"],
            max_side=spec["max_side"],
            max_pixels=spec["max_pixels"],
            page_field=spec.get("page_field"),
            text=spec.get("text", False),
            billing=spec.get("billing", "per_call"),
            withdrawn=Withdrawal(withdrawn["date"], withdrawn["source"]) if withdrawn else None,
            source=spec.get("source", "sdk"),
            options=frozenset(spec.get("options", ())),
            first_page_only=spec.get("first_page_only"),
        )
    region_sources = {r: {s: frozenset(a) for s, a in tables.items()}
                      for r, tables in doc["regions"].items()}
    regions = {r: frozenset().union(*tables.values()) if tables else frozenset()
               for r, tables in region_sources.items()}
    codes = {code: ProviderCode(code, spec["source"],
                                {int(k): v for k, v in spec.get("statuses", {}).items()},
                                spec.get("retry_after_s"))
             for code, spec in doc.get("provider_codes", {}).items()}
    return Catalogue(apis, regions, doc["max_image_base64_bytes"], doc["max_body_bytes"],
                     region_sources, sources, dict(doc.get("unsupported", {})), codes)


@lru_cache(maxsize=1)
def load() -> Catalogue:
    # a plain path, not importlib.resources: the package is always unpacked on the function
    # platforms, and this keeps importlib.resources out of the cold start
    raw = (Path(__file__).parents[1] / "data" / "catalogue.json").read_text("utf-8")
    return _parse(json.loads(raw))


_SITE_NAMES = {"cn-site": "China site", "intl-site": "international site",
               "cn-site-search": "China site (search excerpt)",
               "api-overview": "API overview, international site"}


def regions_markdown(cat: Catalogue | None = None) -> str:
    """The README's API × region table (``python -m ocrflow.provider.catalogue`` prints it)."""
    cat = cat or load()
    regions = [r for r in KNOWN_REGIONS if r in cat.regions]
    rows = ["| API | " + " | ".join(regions) + " |", "|---|" + "---|" * len(regions)]
    marks = {"cn-site": "C", "intl-site": "I", "cn-site-search": "S", "api-overview": "O"}
    for api in sorted(cat.apis):
        limits = cat.apis[api]
        if limits.withdrawn is not None:
            continue
        cells = []
        for region in regions:
            tables = [s.id for s in cat.listed_by(region, api)]
            cells.append("".join(marks.get(t, "?") for t in tables) or "")
        rows.append(f"| `{api}` | " + " | ".join(cells) + " |")
    lines = ["\n".join(rows), "",
             "C: listed by the China site's endpoint table; I: by the international site's; "
             "S: only by the China site's search excerpt of its table; O: by the API overview "
             "page (`ocr_03_0047`), where no endpoint table lists it. Sources:", ""]
    for sid in ("cn-site", "intl-site", "cn-site-search", "api-overview"):
        s = cat.sources[sid]
        lines.append(f"- {_SITE_NAMES[sid]}: {s.url} (read {s.read})")
    withdrawn = [(a, lim.withdrawn.date) for a, lim in sorted(cat.apis.items()) if lim.withdrawn]
    lines += ["", "Withdrawn by the provider (refused with `OCRFLOW.API_WITHDRAWN`, never called): "
              + ", ".join(f"`{a}` ({d})" for a, d in withdrawn) + "."]
    nowhere = [a for a, lim in sorted(cat.apis.items())
               if lim.withdrawn is None and not cat.regions_offering(a)]
    if nowhere:
        lines.append("In the official client but in no endpoint table (routing to it needs "
                     "`OCR_CATALOGUE_CHECK=warn`): " + ", ".join(f"`{a}`" for a in nowhere) + ".")
    if cat.unsupported:
        lines.append("Not routable: " + "; ".join(f"`{a}`: {why}" for a, why in
                                                   sorted(cat.unsupported.items())) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    print(regions_markdown())
