"""Generates samples/ (the `make run` demo documents, a three-page PDF among them) with
Pillow and the WenQuanYi Micro Hei font from Debian's fonts-wqy-microhei package
(apt-get install fonts-wqy-microhei).

    python scripts/make_samples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
FONT_PATHS = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"]


def font_path() -> str:
    for path in FONT_PATHS:
        if Path(path).exists():
            return path
    sys.exit("no CJK font found: apt-get install fonts-wqy-microhei")


def page(lines: list[tuple[str, int]], width: int = 900, pad: int = 40, bg: str = "white") -> Image.Image:
    path = font_path()
    height = pad * 2 + sum(size + 18 for _, size in lines)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    y = pad
    for text, size in lines:
        draw.text((pad, y), text, fill="black", font=ImageFont.truetype(path, size))
        y += size + 18
    return img


def table(rows: list[list[str]], widths: list[int], size: int = 26) -> Image.Image:
    fnt = ImageFont.truetype(font_path(), size)
    row_h, pad = size + 22, 30
    img = Image.new("RGB", (sum(widths) + pad * 2, row_h * len(rows) + pad * 2), "white")
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(rows):
        x, y = pad, pad + r * row_h
        for c, cell in enumerate(row):
            draw.rectangle([x, y, x + widths[c], y + row_h], outline="black", width=2)
            draw.text((x + 10, y + 10), cell, fill="black", font=fnt)
            x += widths[c]
    return img


def main() -> None:
    out = ROOT / "samples"
    out.mkdir(exist_ok=True)
    page([("Quarterly Report 2026", 34), ("Revenue grew by 12 percent", 30),
          ("Shipping delays fell in October", 30), ("Contact: ops@example.com", 30)]
         ).save(out / "english-letter.png", optimize=True)
    page([("华为云文字识别", 44), ("通用文字识别支持中英文混排", 32),
          ("上传文件后自动识别并发送结果", 32), ("欢迎使用本地模拟服务", 32)]
         ).save(out / "chinese-notice.png", optimize=True)
    page([("GREEN LEAF CAFE", 34), ("Latte x2        36.00", 28), ("Bagel x1        12.50", 28),
          ("Total           48.50", 30), ("Thank you", 28)], width=520
         ).convert("L").save(out / "receipt.jpg", quality=85)
    table([["Item", "Qty", "Price"], ["Paper", "10", "25.00"], ["Toner", "2", "180.00"],
           ["合计", "12", "205.00"]], [220, 120, 180]).save(out / "table.png", optimize=True)
    page([("会议纪要 Meeting Notes", 38), ("时间 2026年11月25日", 30),
          ("Action items due Friday", 30)]).save(out / "mixed-notes.png", optimize=True)
    # a three-page PDF: every page is recognized, one call each, into one message
    pages = [page([("Annual Review 2026", 34), ("Page 1: sales rose in every region", 28)]),
             page([("第二页 运营", 34), ("Page 2: two new warehouses opened", 28)]),
             page([("Page 3: outlook", 34), ("Hiring continues through spring", 28)])]
    pages[0].save(out / "annual-review.pdf", "PDF", save_all=True, append_images=pages[1:], resolution=72)
    for p in sorted(out.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
