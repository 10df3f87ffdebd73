"""The run report: one self-contained HTML page (no network: images inlined, no script)
showing, for every file and every page of a PDF, the page with its recognized boxes drawn
over it (coloured by the provider's confidence where it gives one), the text beside it,
and the API, region, outcome or error code and time.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from ..provider.text import text_of
from .blocks import Block, blocks_of
from .render import PageResult, RenderError, fields_of, page_images, pages_of, read_original

#: Widest page image in the report, in pixels (the page itself is shown at most this wide).
MAX_WIDTH = 640
#: Confidence bands and their colours: the provider's number, 0–1.
BANDS = ((0.9, "#1a9641", "≥ 0.90"), (0.7, "#f39c12", "0.70–0.90"), (0.0, "#d7191c", "< 0.70"))
NO_CONFIDENCE = "#2c7bb6"

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.file{background:#fff;border:1px solid #ddd;border-radius:6px;margin:18px 0;padding:12px 16px}
.file h2{font-size:16px;margin:0 0 6px;word-break:break-all}
.facts{color:#555;margin-bottom:10px}
.facts b{color:#222}
.failure .facts .outcome{color:#b00}
.page{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin:10px 0}
.view{position:relative;flex:none;border:1px solid #ccc;line-height:0}
.view img{display:block}
.view svg{position:absolute;left:0;top:0}
.side{flex:1;min-width:220px}
.side h3{font-size:13px;margin:0 0 4px;color:#555}
pre.text{white-space:pre-wrap;margin:0;font:13px/1.45 ui-monospace,monospace;background:#f4f4f4;padding:8px}
table.fields{border-collapse:collapse;font-size:13px}
table.fields td{border:1px solid #ddd;padding:2px 6px;vertical-align:top}
.note{color:#777;font-style:italic}
"""


def colour(confidence: float | None) -> str:
    if confidence is None:
        return NO_CONFIDENCE
    return next(c for floor, c, _ in BANDS if confidence >= floor)


def _image_tag(image: Any) -> tuple[str, float]:
    """The page as an inline JPEG at most :data:`MAX_WIDTH` wide, and the shrink applied."""
    from PIL import Image

    shrink = min(1.0, MAX_WIDTH / image.width)
    shown = image if shrink == 1.0 else image.resize(
        (max(1, round(image.width * shrink)), max(1, round(image.height * shrink))),
        Image.Resampling.LANCZOS)
    out = io.BytesIO()
    shown.convert("RGB").save(out, "JPEG", quality=80)
    data = base64.b64encode(out.getvalue()).decode("ascii")
    return (f'<img src="data:image/jpeg;base64,{data}" width="{shown.width}" '
            f'height="{shown.height}" alt="page">'), shown.width / image.width


def _boxes_svg(blocks: list[Block], scale: float, width: int, height: int) -> str:
    rects = []
    for b in blocks:
        if b.box is None:
            continue
        x0, y0, x1, y1 = (v * scale for v in b.box)
        conf = "" if b.confidence is None else f" ({b.confidence:.2f})"
        rects.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0, 1):.1f}" '
                     f'height="{max(y1 - y0, 1):.1f}" fill="none" stroke="{colour(b.confidence)}" '
                     f'stroke-width="2"><title>{html.escape(b.text + conf)}</title></rect>')
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(rects)}</svg>')


def _side(api: str | None, result: Any, number: int, pages: int) -> str:
    head = f"<h3>page {number} of {pages}</h3>" if pages > 1 else ""
    text = text_of(api, result)
    if text is not None:
        shown = html.escape(text) if text else '<span class="note">no text recognised</span>'
        return f'{head}<pre class="text">{shown}</pre>'
    fields = list(fields_of(result))
    if not fields:
        return f'{head}<p class="note">no text or fields in the answer</p>'
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in fields)
    return f'{head}<table class="fields">{rows}</table>'


def _pages_html(message: Any, store: Any) -> str:
    api = message.data.api
    try:
        pages = pages_of(message, store)
    except Exception as exc:  # noqa: BLE001 - one file's unreadable result must not end the report
        return f'<p class="note">the result cannot be read: {html.escape(str(exc))}</p>'
    results = {p.number: p.result for p in pages}
    out: list[str] = []
    try:
        original = read_original(message, store)
        for page in page_images(original, pages):
            img, shrink = _image_tag(page.image)
            w, h = round(page.image.width * shrink), round(page.image.height * shrink)
            svg = _boxes_svg(blocks_of(api, results[page.number]), page.factor * shrink, w, h)
            out.append(f'<div class="page"><div class="view">{img}{svg}</div><div class="side">'
                       f'{_side(api, results[page.number], page.number, len(pages))}</div></div>')
            page.image.close()
    except RenderError as exc:
        out.append(f'<p class="note">{html.escape(str(exc))}: text only</p>')
        out += [f'<div class="page"><div class="side">{_side(api, p.result, p.number, len(pages))}'
                f'</div></div>' for p in pages]
    return "".join(out)


def _original_only(message: Any, store: Any) -> str:
    """A failure's original, when it is an image that can be shown (no boxes: no result)."""
    try:
        original = read_original(message, store)
        page = next(page_images(original, [PageResult(1, None)]))
    except (RenderError, StopIteration):
        return ""
    except Exception:  # noqa: BLE001 - a file the service refused may be unreadable here too
        return ""
    img, _ = _image_tag(page.image)
    return f'<div class="page"><div class="view">{img}</div></div>'


def _file_html(outcome: Any, event: dict[str, Any] | None, store: Any) -> str:
    from ..contract.consumer import OcrFailure, parse

    key = outcome.ref.key if outcome.ref else "?"
    message = None
    if event is not None:
        try:
            message = parse(event)
        except Exception:  # noqa: BLE001 - shown as not found
            message = None
    failed = outcome.status == "failure" or isinstance(message, OcrFailure)
    if outcome.status == "duplicate":
        what = "already processed (no new call)"
    elif failed:
        what = f"failure {outcome.code or ''}".strip()
    else:
        what = outcome.status
    if outcome.pages:
        what += f" ({outcome.pages} pages)"
    facts = (f'<div class="facts">API <b>{html.escape(outcome.api or "–")}</b> · region '
             f'<b>{html.escape(outcome.region or "–")}</b> · <span class="outcome">'
             f'{html.escape(what)}</span> · {outcome.duration_ms} ms</div>')
    body = ""
    if isinstance(message, OcrFailure):
        e = message.data.error
        body = (f'<p class="error"><b>{html.escape(e.code)}</b>: {html.escape(e.message)}</p>'
                + _original_only(message, store))
    elif message is not None:
        body = _pages_html(message, store)
    elif outcome.detail:
        body = f'<p class="error">{html.escape(outcome.detail)}</p>'
    else:
        body = '<p class="note">its message was not found on the queues</p>'
    cls = "file failure" if failed else "file"
    return (f'<section class="{cls}" data-key="{html.escape(key)}"><h2>{html.escape(key)}</h2>'
            f'{facts}{body}</section>')


def build_report(outcomes: list[Any], events: dict[str, dict[str, Any]], store: Any,
                 title: str = "ocrflow run") -> str:
    """The report's HTML. ``events``: the published messages by id (a duplicate's outcome
    names the message published the first time)."""
    legend = "".join(f'<span><i style="background:{c}"></i>confidence {label}</span>'
                     for _, c, label in BANDS)
    legend += f'<span><i style="background:{NO_CONFIDENCE}"></i>no confidence given</span>'
    files = "".join(_file_html(o, events.get(o.message_id or ""), store) for o in outcomes)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{len(outcomes)} files</p>"
            f'<div class="legend">{legend}</div>{files}</body></html>\n')
