"""Render a style variant to a PNG at its placement's exact size (Pillow).

The image is cover-cropped into its area, copy is wrapped and shrunk (then ellipsized) so it
never leaves its box, and the text colour is chosen, with a scrim added if needed, so contrast
against everything under the text is at least 4.5:1 (WCAG AA).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageDraw, ImageFont, ImageOps

MIN_CONTRAST = 4.5
WHITE = (255, 255, 255)
INK = (17, 17, 17)
_FONT_CANDIDATES = {
    # (path, ttc index): Noto Sans CJK covers Chinese and Latin; index 2 is the Simplified Chinese face.
    "regular": [("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
                ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2)],
    "bold": [("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
             ("/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc", 2)],
}

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)


@lru_cache(maxsize=4)
def font_file(weight: str = "regular") -> tuple[str, int]:
    for path, index in _FONT_CANDIDATES[weight]:
        if Path(path).exists():
            return path, index
    raise ImproperlyConfigured(
        "No CJK-capable font found. Install Debian's fonts-noto-cjk (scripts/setup.sh does this)."
    )


@lru_cache(maxsize=256)
def load_font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    path, index = font_file(weight)
    return ImageFont.truetype(path, size=max(6, int(size)), index=index)


# ---------------------------------------------------------------- colour maths (WCAG 2.x)

def _linear(channel: np.ndarray) -> np.ndarray:
    c = channel / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def relative_luminance(pixels: np.ndarray) -> np.ndarray:
    """Relative luminance of RGB pixels (..., 3) in 0..1."""
    lin = _linear(pixels[..., :3].astype(np.float64))
    return 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]


def contrast_ratio(l1: float, l2: float) -> float:
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


def worst_contrast(text_rgb: tuple[int, int, int], region: np.ndarray) -> float:
    """Lowest contrast between the text colour and any pixel of the region."""
    text_l = float(relative_luminance(np.array(text_rgb, dtype=np.float64)))
    lum = relative_luminance(region)
    return min(contrast_ratio(text_l, float(lum.max())), contrast_ratio(text_l, float(lum.min())))


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def rgb_to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def best_text_color(region: np.ndarray) -> tuple[tuple[int, int, int], float]:
    candidates = [(c, worst_contrast(c, region)) for c in (WHITE, INK)]
    return max(candidates, key=lambda item: item[1])


# ---------------------------------------------------------------- text fitting

def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (0x2E80 <= code <= 0x9FFF) or (0xF900 <= code <= 0xFAFF) or (0xFF00 <= code <= 0xFFEF) or (
        0x3000 <= code <= 0x303F)


def _tokens(text: str) -> list[str]:
    """Words for Latin scripts, single characters for CJK (which breaks between any two)."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if _is_cjk(ch):
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        elif ch.isspace():
            if word:
                tokens.append(word)
                word = ""
            tokens.append(" ")
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def _width(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for piece in _tokens(text):
        candidate = line + piece
        if _width(font, candidate.rstrip()) <= max_width:
            line = candidate
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = "" if piece == " " else piece
        while line and _width(font, line) > max_width:  # a single word wider than the box
            cut = len(line)
            while cut > 1 and _width(font, line[:cut]) > max_width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _ellipsize(line: str, font: ImageFont.FreeTypeFont, max_width: int) -> str:
    ellipsis = "…"
    while line and _width(font, line.rstrip() + ellipsis) > max_width:
        line = line[:-1]
    return line.rstrip() + ellipsis


@dataclass
class FittedText:
    lines: list[str]
    size: int
    line_height: int
    truncated: bool
    weight: str

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def fit_text(text: str, box_w: int, box_h: int, *, max_size: int, min_size: int = 10,
             weight: str = "regular", max_lines: int = 3) -> FittedText:
    """The largest size at which `text` wraps inside box_w × box_h; ellipsized at the smallest size."""
    min_size = max(6, min(min_size, max_size))
    size = max_size
    while True:
        font = load_font(size, weight)
        line_height = int(size * 1.25)
        lines = wrap_text(text, font, box_w - 3) if text else []
        if len(lines) <= max_lines and line_height * len(lines) <= box_h:
            return FittedText(lines, size, line_height, False, weight)
        if size <= min_size:
            fit_lines = max(0, min(max_lines, box_h // line_height))
            kept = lines[:fit_lines]
            if kept and len(lines) > fit_lines:
                kept[-1] = _ellipsize(kept[-1], font, box_w - 3)
            return FittedText(kept, size, line_height, True, weight)
        size = max(min_size, int(size * 0.9))


# ---------------------------------------------------------------- layout

@dataclass
class TextBlock:
    name: str
    box: Box  # the area the text must stay inside
    fitted: FittedText
    color: tuple[int, int, int]
    drawn: list[Box] = field(default_factory=list)  # ink boxes actually drawn, one per line


@dataclass
class Composition:
    image: Image.Image
    background: Image.Image  # the canvas before any text was drawn (for contrast checks)
    text_region: Box
    blocks: list[TextBlock]
    button_box: Box | None
    text_color: tuple[int, int, int]
    button_text_color: tuple[int, int, int]
    scrim_alpha: float


def cover_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover `size` and crop the centre, like CSS object-fit: cover."""
    return ImageOps.fit(image.convert("RGB"), size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _regions(kind: str, text_position: str, w: int, h: int) -> tuple[Box | None, Box]:
    """(image area, text area) for a layout kind."""
    pad = max(8, int(h * 0.08))
    if kind == "left_image":
        split = int(w * 0.42)
        return (0, 0, split, h), (split + pad, pad, w - pad, h - pad)
    if kind == "list":
        side = h - 2 * pad
        return (pad, pad, pad + side, pad + side), (pad * 2 + side, pad, w - pad, h - pad)
    if kind == "grid":
        split = int(w * 0.52)
        return (split, 0, w, h), (pad, pad, split - pad, h - pad)
    # single_image_text: the image fills the canvas, the copy sits over one side of it
    if text_position == "right":
        return (0, 0, w, h), (int(w * 0.42) + pad, pad, w - pad, h - pad)
    if text_position == "bottom":
        return (0, 0, w, h), (pad, int(h * 0.45), w - pad, h - pad)
    return (0, 0, w, h), (pad, pad, int(w * 0.58) - pad, h - pad)


def _background(spec: dict, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base = hex_to_rgb(spec.get("colors", {}).get("background", "#FFFFFF"))
    canvas = Image.new("RGB", size, base)
    if spec.get("background_style") == "gradient":
        arr = np.zeros((h, w, 3), dtype=np.float64)
        t = np.linspace(0.0, 1.0, w)[None, :, None]
        lighter = np.array(base) + (255 - np.array(base)) * 0.6
        arr[:] = np.array(base) * (1 - t) + lighter * t
        canvas = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return canvas


def _place_image(canvas: Image.Image, image: Image.Image | None, area: Box | None, kind: str) -> None:
    if image is None or area is None:
        return
    x0, y0, x1, y1 = area
    if kind == "grid":
        gutter = max(2, (x1 - x0) // 60)
        tile_w, tile_h = (x1 - x0 - gutter * 3) // 2, (y1 - y0 - gutter * 3) // 2
        source = cover_crop(image, (tile_w * 2, tile_h * 2))
        for row in range(2):
            for col in range(2):
                tile = source.crop((col * tile_w, row * tile_h, (col + 1) * tile_w, (row + 1) * tile_h))
                canvas.paste(tile, (x0 + gutter + col * (tile_w + gutter), y0 + gutter + row * (tile_h + gutter)))
        return
    canvas.paste(cover_crop(image, (x1 - x0, y1 - y0)), (x0, y0))


def _apply_scrim(canvas: Image.Image, box: Box) -> tuple[Image.Image, tuple[int, int, int], float]:
    """Choose a text colour for the region; darken or lighten it until contrast reaches 4.5:1."""
    region = np.asarray(canvas.crop(box))
    color, contrast = best_text_color(region)
    if contrast >= MIN_CONTRAST:
        return canvas, color, 0.0
    scrim = (0, 0, 0) if color == WHITE else (255, 255, 255)
    alpha = 0.0
    while alpha < 1.0:
        alpha = round(alpha + 0.1, 2)
        patched = canvas.copy()
        overlay = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), scrim)
        patched.paste(Image.blend(canvas.crop(box), overlay, alpha), box[:2])
        if worst_contrast(color, np.asarray(patched.crop(box))) >= MIN_CONTRAST:
            return patched, color, alpha
    return patched, color, 1.0


def compose(spec: dict, image: Image.Image | None, size: tuple[int, int]) -> Composition:
    """Render a render spec (API.md's `render`) and an image at `size` = (width, height)."""
    w, h = size
    kind = spec.get("layout", "single_image_text")
    scale = float(spec.get("font_scale", 1.0) or 1.0)
    image_area, text_box = _regions(kind, spec.get("text_position", "left"), w, h)
    canvas = _background(spec, size)
    _place_image(canvas, image, image_area, kind)
    canvas, text_color, alpha = _apply_scrim(canvas, text_box)
    background = canvas.copy()

    x0, y0, x1, y1 = text_box
    box_w, box_h = x1 - x0, y1 - y0
    gap = max(4, int(h * 0.03))
    button_h = int(min(box_h * 0.28, h * 0.22))
    headline_h = int((box_h - button_h - gap * 2) * 0.62)
    subline_h = box_h - button_h - gap * 2 - headline_h
    blocks = [
        TextBlock("headline", (x0, y0, x1, y0 + headline_h),
                  fit_text(spec.get("headline", ""), box_w, headline_h, max_size=int(h * 0.13 * scale),
                           min_size=max(10, int(h * 0.05)), weight="bold", max_lines=2), text_color),
        TextBlock("subline", (x0, y0 + headline_h + gap, x1, y0 + headline_h + gap + subline_h),
                  fit_text(spec.get("subline", ""), box_w, subline_h, max_size=int(h * 0.075 * scale),
                           min_size=max(8, int(h * 0.035)), max_lines=2), text_color),
    ]
    draw = ImageDraw.Draw(canvas)
    for block in blocks:
        _draw_block(draw, block)

    button_rgb = hex_to_rgb(spec.get("colors", {}).get("button", "#E8322E"))
    button_text_color, _ = best_text_color(np.array([[button_rgb]], dtype=np.uint8))
    button_box: Box | None = None
    cta = spec.get("cta", "")
    if cta:
        by0 = y1 - button_h
        label = fit_text(cta, int(box_w * 0.8), int(button_h * 0.8), max_size=int(button_h * 0.5),
                         min_size=8, weight="bold", max_lines=1)
        label_w = int(max((load_font(label.size, "bold").getlength(line) for line in label.lines), default=0))
        bw = min(box_w, max(int(button_h * 2.4), label_w + button_h))
        button_box = (x0, by0, x0 + bw, y1)
        draw.rounded_rectangle((x0, by0, x0 + bw - 1, y1 - 1), radius=button_h // 2, fill=button_rgb)
        inner = (x0 + (bw - label_w) // 2, by0 + (button_h - label.height) // 2,
                 x0 + bw, y1)
        cta_block = TextBlock("cta", (x0, by0, x0 + bw, y1), label, button_text_color)
        _draw_block(draw, cta_block, origin=inner[:2])
        blocks.append(cta_block)
    return Composition(canvas, background, text_box, blocks, button_box, text_color, button_text_color, alpha)


def _draw_block(draw: ImageDraw.ImageDraw, block: TextBlock, origin: tuple[int, int] | None = None) -> None:
    font = load_font(block.fitted.size, block.fitted.weight)
    x, y = origin or block.box[:2]
    for line in block.fitted.lines:
        # Some glyphs ink a pixel left of their origin; shift so the ink starts inside the box.
        x_line = x + max(0, -int(font.getbbox(line)[0]))
        draw.text((x_line, y), line, font=font, fill=block.color)
        left, top, right, bottom = draw.textbbox((x_line, y), line, font=font)
        block.drawn.append((int(left), int(top), int(right), int(bottom)))
        y += block.fitted.line_height


# ---------------------------------------------------------------- variants

def render_spec_for(variant) -> dict:
    """The `render` object of API.md for a composed variant."""
    copy, layout = variant.copy, variant.layout
    spec = {
        "layout": layout.kind if layout else "single_image_text",
        "headline": copy.headline if copy else variant.render_spec.get("headline", ""),
        "subline": copy.subline if copy else variant.render_spec.get("subline", ""),
        "cta": copy.cta if copy else variant.render_spec.get("cta", ""),
        "language": copy.language if copy else variant.render_spec.get("language", "en"),
        "colors": {
            "button": layout.button_color if layout else variant.render_spec.get("colors", {}).get("button", "#E8322E"),
            "background": layout.background_color if layout else "#FFFFFF",
        },
        "font_scale": layout.font_scale if layout else variant.render_spec.get("font_scale", 1.0),
        "text_position": layout.text_position if layout else "left",
        "background_style": layout.background_style if layout else "image",
    }
    return spec


def store_png(image: Image.Image, folder: str = "variants") -> str:
    """Save under MEDIA_ROOT named by content hash; returns the relative path."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    data = buffer.getvalue()
    name = f"{folder}/{hashlib.sha256(data).hexdigest()[:24]}.png"
    path = Path(settings.MEDIA_ROOT) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: readers never see half a file
    return name
