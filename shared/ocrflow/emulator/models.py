"""The emulated service's state and decisions (moto's ``models``): which API is offered and
bought where, what a body must hold, how a file is checked, what the answer is — real
recognition for the text APIs (:class:`TextEngine`), recorded answers for the others — and
the counts and injected faults of a run. The HTTP side is :mod:`.responses` and
:mod:`.server`."""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.signer import VerifyError, verify
from ..documents import filecheck
from ..provider import catalogue
from .exceptions import Answer
from .throttle import Throttle

FAULTS = ("429", "4401", "500", "503", "504", "slow", "reset")
RECORDED = Path(__file__).parent / "recorded"
TEXT_APIS = frozenset({"general-text", "web-image", "handwriting", "general-table"})
NO_API = "The API does not exist or has not been published in the environment."
FAULT_ANSWERS: dict[str, tuple[int, str, str]] = {
    "429": (429, "APIG.0308", "The throttling threshold has been reached."),
    "4401": (429, "ModelArts.4401", "Too many concurrent requests."),
    "504": (504, "APIG.0201", "Backend timeout."),
    "500": (500, "Emulator.InjectedFault", "injected fault: HTTP 500"),
    "503": (503, "Emulator.InjectedFault", "injected fault: HTTP 503"),
}



@dataclass
class EmulatorOptions:
    region: str = "cn-north-4"
    #: api → region where its package was "bought"; None = every API everywhere it is offered
    packages: dict[str, str] | None = None
    fault_rate: float = 0.0
    faults: list[str] = field(default_factory=lambda: list(FAULTS))
    seed: int = 0
    latency_ms: int = 0
    slow_ms: int = 35_000
    recognition: bool = True
    #: AK → SK accepted; None accepts any AK (the form and the date are still checked)
    credentials: dict[str, str] | None = None
    #: calls per second per API and region, above which the gateway answers 429 APIG.0308
    qps: int | None = None
    #: how the second is counted: "second" (each period of the clock) or "sliding"
    qps_window: str = "second"
    #: keep the request id of every billed answer (RunningEmulator.billed_request_ids)
    keep_billed_ids: bool = False


class Stats:
    def __init__(self, keep_billed_ids: bool = False) -> None:
        self.lock = threading.Lock()
        self.by_api: dict[str, dict[str, dict[str, int]]] = {}
        #: with ``keep_billed_ids``, the X-Request-Id of every billed answer, in order: what a
        #: chaos run matches against the published messages' request_id to find paid answers
        #: that were lost (off by default: a long-running emulator would only grow)
        self.keep_billed_ids = keep_billed_ids
        self.billed_ids: list[str] = []

    def count(self, api: str, region: str, status: int, billed: int = 1,
              request_id: str | None = None) -> None:
        with self.lock:
            c = self.by_api.setdefault(api, {}).setdefault(
                region, {"total": 0, "success": 0, "failed": 0, "billed": 0})
            c["total"] += 1
            if 200 <= status < 300:
                c["success"] += 1
                # the service bills 2xx answers, whether or not they arrive (per recognized
                # document for auto-classification)
                c["billed"] += billed
                if request_id is not None and self.keep_billed_ids:
                    self.billed_ids.append(request_id)
            else:
                c["failed"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            by_api = json.loads(json.dumps(self.by_api))
        totals = {"total": 0, "success": 0, "failed": 0, "billed": 0}
        for regions in by_api.values():
            for c in regions.values():
                for k in totals:
                    totals[k] += c[k]
        return {**totals, "by_api": by_api}

    def reset(self) -> None:
        with self.lock:
            self.by_api.clear()
            self.billed_ids.clear()


class FaultPlan:
    """Decides the Nth request's fault from the seed alone (draws in arrival order)."""

    def __init__(self, rate: float, faults: list[str], seed: int) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {','.join(FAULTS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self.rate, self.faults = rate, list(faults)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible faults, not security
        self.lock = threading.Lock()
        self.count = 0
        self.log: list[str | None] = []

    def next(self) -> str | None:
        with self.lock:
            self.count += 1
            fault = None
            if self.rate > 0 and self.faults:
                draw = self.rng.random()
                pick = self.rng.randrange(len(self.faults))
                if draw < self.rate:
                    fault = self.faults[pick]
            self.log.append(fault)
            return fault


#: RapidOCR's settings, changed from its defaults where those drop the spaces between
#: English words ("GREENLEAFCAFE", "AnnualReview 2026"). The detector's boxes are unclipped
#: by 1.6 by default, which crops a line tight to its glyphs: the recognizer then reads the
#: gaps between words as letter spacing. Cropped with a margin (2.5) it keeps them. Lines
#: are also read one at a time: in a batch each crop is padded to the widest one's aspect
#: ratio, and a short line beside a long one loses its spaces the same way. Measured on 72
#: generated English lines of 18-48 px: 24 read exactly with the defaults (36 lost a space),
#: 58 with these (2 lost a space); tests/e2e/test_emulator_english.py holds it.
ENGINE_SETTINGS: dict[str, Any] = {"det_unclip_ratio": 2.5, "rec_batch_num": 1}


class TextEngine:
    """RapidOCR (PP-OCR models inside the wheel, ONNX Runtime on the CPU), loaded once."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - the extra is missing
                raise Answer(500, "Emulator.NotEmulated",
                             "recognition needs the emulator extra: pip install 'ocrflow[emulator]'") from exc
            self._engine = RapidOCR(**ENGINE_SETTINGS)
        return self._engine

    def words(self, image: bytes) -> list[dict[str, Any]]:
        with self._lock:
            engine = self._load()
            found, _ = engine(image)
        blocks = []
        for box, text, score in found or []:
            # the wider crop can read the margin as a space at either end of the line
            text = text.strip()
            if not text:
                continue
            blocks.append({"words": text, "confidence": round(float(score), 4),
                           "location": [[int(round(x)), int(round(y))] for x, y in box]})
        return blocks


def markdown_result(blocks: list[dict[str, Any]]) -> str:
    """general-text's ``markdown_result`` (asked for with ``return_markdown_result``), as the
    API reference describes it: every block, blocks of one line joined with a tab, lines
    with a newline. A block is on the line of the one before when its vertical middle lies
    within that block's height."""
    def top(b: dict[str, Any]) -> int:
        return min(p[1] for p in b["location"])

    def bottom(b: dict[str, Any]) -> int:
        return max(p[1] for p in b["location"])

    def left(b: dict[str, Any]) -> int:
        return min(p[0] for p in b["location"])

    lines: list[list[dict[str, Any]]] = []
    for block in sorted(blocks, key=top):
        last = lines[-1][-1] if lines else None
        if last is not None and top(last) <= (top(block) + bottom(block)) / 2 <= bottom(last):
            lines[-1].append(block)
        else:
            lines.append([block])
    return "\n".join("\t".join(b["words"] for b in sorted(line, key=left)) for line in lines)


def text_result(api: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented result shape of each text API."""
    if api == "general-table":
        return {"words_region_count": 1 if blocks else 0,
                "words_region_list": [{"type": "text", "words_block_count": len(blocks),
                                       "words_block_list": blocks}] if blocks else []}
    return {"direction": 0.0 if blocks else -1.0, "words_block_count": len(blocks),
            "words_block_list": blocks}


class Emulator:
    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self.catalogue = catalogue.load()
        if options.region not in self.catalogue.regions:
            raise ValueError(f"unknown region {options.region!r}")
        self.stats = Stats(options.keep_billed_ids)
        self.in_flight = 0
        self.idle = threading.Condition()
        self.faults = FaultPlan(options.fault_rate, options.faults, options.seed)
        self.engine = TextEngine()
        self.throttle = Throttle(options.qps, window=options.qps_window) if options.qps else None

    def bought(self, api: str, region: str) -> bool:
        packages = self.options.packages
        return packages is None or packages.get(api) == region

    def route(self, path: str) -> tuple[str, str]:
        """(region, api) of a request path, or Answer 404."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        region = self.options.region
        if parts and parts[0] in self.catalogue.regions:
            region, parts = parts[0], parts[1:]
        if len(parts) != 4 or parts[0] != "v2" or parts[2] != "ocr":
            raise Answer(404, "APIG.0101", NO_API)
        return region, parts[3]

    def authenticate(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "x-auth-token" in lowered and "authorization" not in lowered:
            return  # IAM tokens are accepted as they are (the emulator has no IAM)
        raw_path, _, query = path.partition("?")
        try:
            verify(method, raw_path, query, headers, body, self.options.credentials)
        except VerifyError as exc:
            detail = {"skew": "x-sdk-date expired", "date": "x-sdk-date missing or malformed",
                      "unsigned": "no authentication information",
                      "unknown_ak": "access key not found"}.get(exc.reason, "verify aksk signature fail")
            raise Answer(401, "APIG.0301", f"Incorrect IAM authentication information: {detail}") from None

    def recognize(self, api: str, region: str, body: bytes) -> tuple[dict[str, Any], dict[str, str]]:
        """The answer to an authenticated call, in the gateway's order of checks."""
        limits = self.check_place(api, region)
        doc = self.read_body(limits, body)
        if limits.body_field == "json":
            return self.recorded(api)
        image = self.read_file(limits, doc)
        fmt = self.check_file(limits, image)
        if fmt == "pdf":
            image, fmt = self.pdf_page(limits, doc, image), "png"
        return self.answer(limits, image, fmt, doc)

    def pdf_page(self, limits: catalogue.ApiLimits, doc: dict[str, Any], pdf: bytes) -> bytes:
        """The page the body asks for (``limits.page_field``, else page 1; always page 1 for
        an API whose page says it reads the first page only), rendered as the service renders
        it; refused past the last page. Rendered only for recognition."""
        from .pdfpages import render_page, requested_page

        field = None if limits.first_page_only else limits.page_field
        return render_page(pdf, requested_page(doc, field),
                           render=limits.name in TEXT_APIS and self.options.recognition)

    def check_place(self, api: str, region: str) -> catalogue.ApiLimits:
        """404 ``APIG.0101`` where the region's endpoint table does not list the API (the
        gateway knows no such path there); 403 ``ModelArts.4204`` where it is deployed but
        its package was bought elsewhere."""
        if not self.catalogue.offers(region, api) or api not in self.catalogue.apis:
            raise Answer(404, "APIG.0101", NO_API)
        if not self.bought(api, region):
            where = (self.options.packages or {}).get(api)
            bought = f" (package bought in {where})" if where else ""
            raise Answer(403, "ModelArts.4204", f"Service not enabled in {region}{bought}")
        return self.catalogue.apis[api]

    def read_body(self, limits: catalogue.ApiLimits, body: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Answer(400, "AIS.0101", "The request body is not valid JSON.") from None
        if not isinstance(doc, dict):
            raise Answer(400, "AIS.0101", "The request body must be a JSON object.")
        return doc

    def read_file(self, limits: catalogue.ApiLimits, doc: dict[str, Any]) -> bytes:
        fld = limits.body_field
        given = [k for k in (fld, "url") if doc.get(k)]
        if len(given) != 1:
            raise Answer(400, "AIS.0101", f"The parameter {fld} and url must choose one.")
        if given[0] == "url":
            raise Answer(400, "Emulator.NotEmulated", "url input is not emulated offline; send the image")
        encoded = doc[fld]
        if not isinstance(encoded, str):
            raise Answer(400, "AIS.0101", f"The parameter {fld} must be a string.")
        if len(encoded) > self.catalogue.max_image_base64_bytes:
            raise Answer(400, "AIS.0103", "The image size exceeds the limit (10 MB after base64 encoding).")
        try:
            image = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Answer(400, "AIS.0102", "The image is not valid base64.") from None
        if not image:
            raise Answer(400, "AIS.0103", "The image is empty.")
        return image

    def check_file(self, limits: catalogue.ApiLimits, image: bytes) -> str:
        """The file's format, or the service's refusal: AIS.0102 for a format the API does
        not take or a header no decoder reads, AIS.0103 for sides or pixels out of range."""
        fmt = filecheck.sniff_format(image)
        if fmt is None or fmt not in limits.formats:
            raise Answer(400, "AIS.0102", "The image format is not supported.")
        try:
            facts = filecheck.inspect(image)
        except Exception:  # noqa: BLE001 - any unreadable header is the service's AIS.0102
            raise Answer(400, "AIS.0102", "The image cannot be decoded.") from None
        w, h = facts.width, facts.height
        if w is not None and h is not None and not limits.fits(w, h):
            raise Answer(400, "AIS.0103", f"The image size {facts.width}x{facts.height} is out of range.")
        return fmt

    def answer(self, limits: catalogue.ApiLimits, image: bytes, fmt: str,
               doc: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        if limits.name not in TEXT_APIS:
            return self.recorded(limits.name)
        blocks = self.engine.words(image) if self.options.recognition else []
        result = text_result(limits.name, blocks)
        if limits.name == "general-text" and (doc or {}).get("return_markdown_result") is True:
            result["markdown_result"] = markdown_result(blocks)
        return {"result": result}, {"X-Emulator-Recognition": "on" if self.options.recognition else "off"}

    def recorded(self, api: str) -> tuple[dict[str, Any], dict[str, str]]:
        path = RECORDED / f"{api}.json"
        if not path.exists():
            raise Answer(400, "Emulator.NotEmulated",
                         f"{api} is not emulated: no recorded answer and no recognition for it")
        doc = json.loads(path.read_text("utf-8"))
        return {"result": doc["result"]}, {"X-Emulator-Recorded": "true"}
