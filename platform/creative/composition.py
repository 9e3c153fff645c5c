"""Render a style variant to a PNG at its placement's size, from a layout template (creative/layouts/*.json).

The template places the art (cover-fitted on a focal point, never enlarged more than MAX_ART_UPSCALE), a grid
of 2–4 product images, or no art at all; the copy is broken into lines by creative.typesetting (kinsoku, whole
words, no orphans, balanced lines) at the largest size of the template's type scale that fits. Every text,
the CTA included, is checked for WCAG contrast: text over art gets a feathered gradient (or blurred) backdrop
strong enough for 4.5:1, and a brand button colour is adjusted within the operator's tolerance or the variant
is refused with the reason. Text is drawn from the vector font at any scale (1× and 2×).
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
from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

from .dynamic_copy import dynamic_spec, fill_line, static_text
from .layout_specs import layout_template
from .typesetting import FittedText, fit_units, line_violations

MIN_CONTRAST = 4.5  # WCAG 2.x AA for body text
LARGE_TEXT_CONTRAST = 3.0  # WCAG AA for large text: >= 24 CSS px regular, or >= 18.66 CSS px (14 pt) bold
LARGE_REGULAR_PX, LARGE_BOLD_PX = 24.0, 18.66
MAX_ART_UPSCALE = 1.25  # art is never enlarged more than this (the generation side uses the same limit)
DEFAULT_COLOR_TOLERANCE = 6.0  # CIE76 ΔE a brand colour may move to reach contrast, unless the layout says
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
RGB = tuple[int, int, int]


@lru_cache(maxsize=4)
def font_file(weight: str = "regular") -> tuple[str, int]:
    for path, index in _FONT_CANDIDATES[weight]:
        if Path(path).exists():
            return path, index
    raise ImproperlyConfigured(
        "No CJK-capable font found. Install Debian's fonts-noto-cjk (scripts/setup.sh does this)."
    )


def _layout_engine():
    # HarfBuzz shaping through libraqm (bundled with Pillow's wheels) when present; FreeType's basic otherwise.
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


@lru_cache(maxsize=512)
def load_font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    path, index = font_file(weight)
    return ImageFont.truetype(path, size=max(6, int(size)), index=index, layout_engine=_layout_engine())


# ---------------------------------------------------------------- colour maths (WCAG 2.x, CIELAB)

def _linear(channel: np.ndarray) -> np.ndarray:
    c = channel / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR_LUT = _linear(np.arange(256, dtype=np.float64))
_LUT_R, _LUT_G, _LUT_B = (w * _LINEAR_LUT for w in (0.2126, 0.7152, 0.0722))


def relative_luminance(pixels: np.ndarray) -> np.ndarray:
    """Relative luminance of RGB pixels (..., 3) in 0..1 (8-bit pixels through a lookup table)."""
    if pixels.dtype == np.uint8:
        return _LUT_R[pixels[..., 0]] + _LUT_G[pixels[..., 1]] + _LUT_B[pixels[..., 2]]
    lin = _linear(pixels[..., :3].astype(np.float64))
    return 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]


def contrast_ratio(l1: float, l2: float) -> float:
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


def color_contrast(a: RGB, b: RGB) -> float:
    la, lb = (float(relative_luminance(np.array(c, dtype=np.float64))) for c in (a, b))
    return contrast_ratio(la, lb)


def worst_contrast(text_rgb: RGB, region: np.ndarray) -> float:
    """Lowest contrast between the text colour and any pixel of the region."""
    return _worst_from_extremes(text_rgb, *_luminance_extremes(region))


def _luminance_extremes(region: np.ndarray) -> tuple[float, float]:
    lum = relative_luminance(region)
    return float(lum.min()), float(lum.max())


def _worst_from_extremes(text_rgb: RGB, low: float, high: float) -> float:
    text_l = float(relative_luminance(np.array(text_rgb, dtype=np.float64)))
    return min(contrast_ratio(text_l, high), contrast_ratio(text_l, low))


def hex_to_rgb(value: str) -> RGB:
    value = (value or "").strip().lstrip("#")
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return WHITE


def rgb_to_hex(rgb: tuple[int, ...]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb[:3])


def best_text_color(region: np.ndarray) -> tuple[RGB, float]:
    low, high = _luminance_extremes(region)
    candidates = [(c, _worst_from_extremes(c, low, high)) for c in (WHITE, INK)]
    return max(candidates, key=lambda item: item[1])


_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def rgb_to_lab(rgb: RGB) -> np.ndarray:
    xyz = _RGB_TO_XYZ @ _linear(np.array(rgb, dtype=np.float64)) / _D65
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def lab_to_rgb(lab: np.ndarray) -> RGB:
    fy = (lab[0] + 16) / 116
    f = np.array([fy + lab[1] / 500, fy, fy - lab[2] / 200])
    xyz = np.where(f ** 3 > 216 / 24389, f ** 3, (116 * f - 16) / (24389 / 27)) * _D65
    lin = np.clip(np.linalg.solve(_RGB_TO_XYZ, xyz), 0, 1)
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    r, g, b = (int(v) for v in np.clip(np.round(srgb * 255), 0, 255))
    return r, g, b


def delta_e(a: RGB, b: RGB) -> float:
    """CIE76 colour difference (about 2.3 is just noticeable)."""
    return float(np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b)))


@dataclass
class ColorCheck:
    """A brand colour (a button) and the text on it: what is used, how far it moved, or why it is refused."""

    requested: RGB
    used: RGB
    text: RGB
    contrast: float
    delta_e: float
    refused: str = ""


def _lightness_move(button: RGB, text: RGB, required: float) -> ColorCheck | None:
    """The smallest CIELAB lightness change of `button` (away from `text`) that gives `required` contrast."""
    ratio = color_contrast(button, text)
    if ratio >= required:
        return ColorCheck(button, button, text, round(ratio, 2), 0.0)
    lab, direction = rgb_to_lab(button), (-1 if text == WHITE else 1)
    for step in np.arange(0.25, 100, 0.25):
        candidate = lab_to_rgb(lab + np.array([direction * step, 0, 0]))
        ratio = color_contrast(candidate, text)
        if ratio >= required:
            return ColorCheck(button, candidate, text, round(ratio, 2), round(delta_e(button, candidate), 2))
    return None


@lru_cache(maxsize=1024)
def resolve_button_color(button: RGB, *, tolerance: float = DEFAULT_COLOR_TOLERANCE,
                         required: float = MIN_CONTRAST) -> ColorCheck:
    """The text colour a designer would put on the brand colour (white, unless the colour is light), and the
    brand colour darkened or lightened in CIELAB lightness until that text reaches `required`, as long as the
    move stays within `tolerance` ΔE; else the other text colour the same way; else refused with the reason."""
    on_white, on_ink = color_contrast(button, WHITE), color_contrast(button, INK)
    preferred = [WHITE, INK] if on_white >= on_ink * 0.6 else [INK, WHITE]
    moves = [m for m in (_lightness_move(button, text, required) for text in preferred) if m is not None]
    for move in moves:
        if move.delta_e <= tolerance:
            return move
    text = preferred[0]
    contrast = on_white if text == WHITE else on_ink
    nearest = min(moves, key=lambda m: m.delta_e) if moves else None
    needs = (f"; reaching it needs {rgb_to_hex(nearest.used)} (ΔE {nearest.delta_e:.1f}), more than the tolerance "
             f"ΔE {tolerance:g}") if nearest else ""
    return ColorCheck(button, button, text, round(contrast, 2), nearest.delta_e if nearest else 100.0, refused=(
        f"button {rgb_to_hex(button)} with {'white' if text == WHITE else 'dark'} text is {contrast:.2f}:1, "
        f"below {required}:1{needs}"))


# A placement's pixels are device pixels of a @2x screen (the admin's phone preview shows 750×300 as 375×150
# points), so a CSS pixel is two placement pixels: the stricter reading of WCAG's large-text size.
PLACEMENT_PIXEL_RATIO = 2.0


def is_large_text(size_px: float, weight: str, scale: float = 1.0) -> bool:
    """WCAG's large-text rule (>= 24 CSS px, or >= 18.66 CSS px bold) for type drawn at `scale`× the
    placement's size."""
    css = size_px / max(scale * PLACEMENT_PIXEL_RATIO, 1e-6)
    return css >= (LARGE_BOLD_PX if weight == "bold" else LARGE_REGULAR_PX)


# ---------------------------------------------------------------- text fitting

def fit_text(text: str, box_w: int, box_h: int, *, max_size: int, min_size: int = 10,
             weight: str = "regular", max_lines: int = 3, leading: float = 1.25,
             balance: bool = True) -> FittedText:
    """The largest size at which `text` breaks inside box_w × box_h (creative.typesetting); ellipsized only at
    the smallest size, and reported."""
    return fit_units(text, box_w - 2, box_h, font_for=load_font, max_size=max_size, min_size=min_size,
                     weight=weight, max_lines=max_lines, leading=leading, balance=balance)


# ---------------------------------------------------------------- layout

@dataclass
class TextBlock:
    name: str
    box: Box  # the area the text must stay inside
    fitted: FittedText
    color: RGB
    drawn: list[Box] = field(default_factory=list)  # ink boxes actually drawn, one per line
    origins: list[tuple[float, float]] = field(default_factory=list)  # where each line was drawn from (x, y)
    text: str = ""
    required_contrast: float = MIN_CONTRAST


@dataclass
class Composition:
    image: Image.Image
    background: Image.Image  # the canvas before any text was drawn (for contrast checks)
    text_region: Box
    blocks: list[TextBlock]
    button_box: Box | None
    text_color: RGB
    button_text_color: RGB
    scrim_alpha: float  # strength of the feathered backdrop behind the copy (0: none needed)
    template: str = ""
    scale: float = 1.0
    button: ColorCheck | None = None
    art_upscale: float = 0.0  # the largest enlargement any art needed to fill its area
    art_limited: bool = False  # art needed more than MAX_ART_UPSCALE and was drawn at that, blur-extended
    checks: dict = field(default_factory=dict)

    @property
    def refused(self) -> str:
        return self.checks.get("refused", "")

    @property
    def violations(self) -> list[str]:
        return self.checks.get("violations", [])


def _px_box(frac: list[float], w: int, h: int) -> Box:
    return round(frac[0] * w), round(frac[1] * h), round(frac[2] * w), round(frac[3] * h)


def _background(spec: dict, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base = hex_to_rgb(spec.get("colors", {}).get("background", "#FFFFFF"))
    if spec.get("background_style") != "gradient":
        return Image.new("RGB", size, base)
    t = np.linspace(0.0, 1.0, w)[None, :, None]
    lighter = np.array(base) + (255 - np.array(base)) * 0.6
    arr = np.broadcast_to(np.array(base) * (1 - t) + lighter * t, (h, w, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _rounded_mask(size: tuple[int, int], radius: int) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=max(0, radius), fill=255)
    return mask


def fit_art(image: Image.Image, size: tuple[int, int], focal: tuple[float, float] = (0.5, 0.5),
            fit: str = "cover") -> tuple[Image.Image, float, bool]:
    """The art filling `size` (cover on the focal point), never enlarged more than MAX_ART_UPSCALE: if it needs
    more, it is drawn at that factor over a blurred cover of itself, with feathered edges. Returns
    (image, enlargement needed, limited?)."""
    image = image.convert("RGB")
    bw, bh = max(1, size[0]), max(1, size[1])
    iw, ih = image.size
    need = max(bw / iw, bh / ih) if fit == "cover" else min(bw / iw, bh / ih)

    def scaled(factor: float) -> Image.Image:
        # bicubic: sharp enough at the small factors art is scaled by here, and three times faster than Lanczos
        return image.resize((max(1, round(iw * factor)), max(1, round(ih * factor))), Image.Resampling.BICUBIC,
                            reducing_gap=2.0)

    def crop_on_focal(img: Image.Image) -> Image.Image:
        x = round((img.width - bw) * focal[0])
        y = round((img.height - bh) * focal[1])
        x, y = min(max(0, x), max(0, img.width - bw)), min(max(0, y), max(0, img.height - bh))
        return img.crop((x, y, x + bw, y + bh))

    if need <= MAX_ART_UPSCALE and fit == "cover":
        return crop_on_focal(scaled(need)), need, False
    cover = max(bw / iw, bh / ih)
    small = image.resize((max(1, iw // 8), max(1, ih // 8)), Image.Resampling.BILINEAR)
    backdrop = crop_on_focal(small.resize((round(iw * cover) + 1, round(ih * cover) + 1),
                                          Image.Resampling.BICUBIC)).filter(
        ImageFilter.GaussianBlur(max(2, min(bw, bh) // 30)))
    sharp = scaled(min(need, MAX_ART_UPSCALE))
    if sharp.width > bw or sharp.height > bh:
        sharp = crop_on_focal(sharp) if fit == "cover" else sharp
    feather = max(2, min(sharp.size) // 16)
    mask = Image.new("L", sharp.size, 0)
    ImageDraw.Draw(mask).rectangle((feather, feather, sharp.width - feather - 1, sharp.height - feather - 1),
                                   fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(feather / 2))
    x = round((bw - sharp.width) * focal[0])
    y = round((bh - sharp.height) * focal[1])
    backdrop.paste(sharp, (x, y), mask)
    return backdrop, need, True


def _grid_cells(box: Box, n: int, gap: int) -> list[Box]:
    """Cells for n products: 2 side by side, 3 as one tall and two stacked, 4 as two by two."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if n <= 1:
        return [box]
    if n == 2:
        cw = (w - gap) // 2
        return [(x0, y0, x0 + cw, y1), (x0 + cw + gap, y0, x1, y1)]
    ch = (h - gap) // 2
    if n == 3:
        cw = (w - gap) // 2
        return [(x0, y0, x0 + cw, y1), (x0 + cw + gap, y0, x1, y0 + ch), (x0 + cw + gap, y0 + ch + gap, x1, y1)]
    cw = (w - gap) // 2
    return [(x0, y0, x0 + cw, y0 + ch), (x0 + cw + gap, y0, x1, y0 + ch),
            (x0, y0 + ch + gap, x0 + cw, y1), (x0 + cw + gap, y0 + ch + gap, x1, y1)]


def _place(canvas: Image.Image, art: Image.Image, box: Box, *, focal, fit: str, radius: int) -> tuple[float, bool]:
    size = (box[2] - box[0], box[3] - box[1])
    fitted, need, limited = fit_art(art, size, focal, fit)
    if radius > 0:
        canvas.paste(fitted, box[:2], _rounded_mask(size, radius))
    else:
        canvas.paste(fitted, box[:2])
    return need, limited


def _backdrop(canvas: Image.Image, text_box: Box, side: str, style: dict, *, has_art: bool,
              required: float) -> tuple[Image.Image, RGB, float]:
    """Text colour for the copy area, and a feathered tint (a gradient into the art, no hard edge) just strong
    enough that the whole copy area reaches `required` contrast."""
    W, H = canvas.size
    region = np.asarray(canvas.crop(text_box))
    color, contrast = best_text_color(region)
    if contrast >= required:
        return canvas, color, 0.0
    x0, y0, x1, y1 = text_box
    fade = max(4, round(float(style.get("fade", 0.2)) * (H if side == "bottom" else W)))
    if side == "bottom":
        axis = np.arange(H, dtype=np.float64)
        ramp = np.clip((axis - (y0 - fade)) / fade, 0, 1)[:, None].repeat(W, 1)
    elif side == "right":
        axis = np.arange(W, dtype=np.float64)
        ramp = np.clip((axis - (x0 - fade)) / fade, 0, 1)[None, :].repeat(H, 0)
    else:
        axis = np.arange(W, dtype=np.float64)
        ramp = np.clip(((x1 + fade) - axis) / fade, 0, 1)[None, :].repeat(H, 0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: the tint eases out, no visible edge
    base = np.asarray(canvas).astype(np.float32)  # (H, W, 3)
    if has_art and style.get("style") == "blur":
        blurred = np.asarray(canvas.filter(ImageFilter.GaussianBlur(max(2, H // 25)))).astype(np.float32)
        base = base * (1 - ramp[..., None]) + blurred * ramp[..., None]
    tint = np.array((0, 0, 0) if color == WHITE else (255, 255, 255), dtype=np.float32)
    ramp = ramp.astype(np.float32)
    # Inside the copy area the ramp is full, so the tint is uniform there: search the strength on the distinct
    # colours that fail (few), then check the rounded result on every pixel.
    window = np.asarray(base[y0:y1, x0:x1] if isinstance(base, np.ndarray) else base).round().astype(np.uint8)
    text_l = float(relative_luminance(np.array(color, dtype=np.float64)))
    lum = relative_luminance(window)
    ratio = (np.maximum(lum, text_l) + 0.05) / (np.minimum(lum, text_l) + 0.05)
    failing = window[ratio < required + 0.05].reshape(-1, 3)
    packed = np.unique(failing[:, 0].astype(np.int32) << 16 | failing[:, 1].astype(np.int32) << 8 | failing[:, 2])
    colours = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1).astype(np.float64)
    low, high = 0.0, 0.95
    for _ in range(10):  # bisection on the tint strength
        mid = (low + high) / 2
        blended = (colours * (1 - mid) + tint * mid).round().astype(np.uint8)
        if len(colours) == 0 or worst_contrast(color, blended[None]) >= required + 0.02:
            high = mid
        else:
            low = mid
    while True:
        mask = ramp[..., None] * high
        out = (base * (1 - mask) + tint * mask).round().astype(np.uint8)
        if worst_contrast(color, out[y0:y1, x0:x1]) >= required or high >= 0.95:
            return Image.fromarray(out), color, round(high, 3)
        high = min(0.95, high + 0.02)


def _draw_block(draw: ImageDraw.ImageDraw, block: TextBlock, *, align: str = "left") -> None:
    font = load_font(block.fitted.size, block.fitted.weight)
    x0, y, x1, _ = block.box
    for line in block.fitted.lines:
        width = font.getlength(line)
        x = x0 if align == "left" else x0 + (x1 - x0 - width) / 2
        # Some glyphs ink a pixel left of their origin; shift so the ink starts inside the box.
        x += max(0, -int(font.getbbox(line)[0]))
        draw.text((x, y), line, font=font, fill=block.color)
        block.origins.append((x, y))
        left, top, right, bottom = draw.textbbox((x, y), line, font=font)
        block.drawn.append((int(left), int(top), int(right), int(bottom)))
        y += block.fitted.line_height


def _load_cell(name: str) -> Image.Image | None:
    from django.core.files.storage import default_storage

    try:
        with default_storage.open(name, "rb") as handle, Image.open(handle) as opened:
            return opened.convert("RGB")
    except (OSError, ValueError):
        return None


def _display_lines(spec: dict, values: dict[str, float] | None) -> dict[str, str]:
    """Headline, subline and CTA as drawn: dynamic lines filled from `values` (or their static fallback)."""
    dynamic, language = spec.get("dynamic") or {}, spec.get("language", "en")
    out = {}
    for name in ("headline", "subline", "cta"):
        entry = dynamic.get(name)
        if entry and values is not None:
            out[name] = fill_line(f"{entry['template']} || {entry['fallback']}", values, language).text
        else:
            out[name] = static_text(spec.get(name, "") or "")
    return out


def compose(spec: dict, image: Image.Image | None, size: tuple[int, int], *, scale: float = 1.0,
            cells: list[Image.Image] | None = None, template: dict | None = None,
            values: dict[str, float] | None = None) -> Composition:
    """Render a render spec (API.md's `render`) with its art at `size` = (width, height) × `scale`.

    `cells` are the grid's other product images (else loaded from spec["cells"], storage names); `template`
    overrides the one the spec names (spec["template"], else its layout kind's default); `values` fill the
    spec's dynamic lines (creative.dynamic_copy), which otherwise show their static fallback.
    """
    lines = _display_lines(spec, values)
    tpl = template or layout_template(spec.get("template"), spec.get("layout", "single_image_text"))
    W, H = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    font_scale = float(spec.get("font_scale", 1.0) or 1.0)
    colors = spec.get("colors", {})
    checks: dict = {"template": tpl["name"], "scale": scale, "violations": [], "notes": []}

    canvas = _background(spec, (W, H))
    margin = round(float(tpl.get("safe_zone", 0.08)) * min(W, H))
    art_need, art_limited, art_right = 0.0, False, 0
    has_art = False
    if "art" in tpl and image is not None:
        art = tpl["art"]
        box = _px_box(art["box"], W, H)
        inset = round(float(art.get("inset", 0)) * min(W, H))
        box = (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
        if art.get("square"):
            side = min(box[2] - box[0], box[3] - box[1])
            box = (box[0], box[1], box[0] + side, box[1] + side)
        radius = round(float(art.get("radius", 0)) * min(W, H))
        art_need, art_limited = _place(canvas, image, box, focal=tuple(art.get("focal", (0.5, 0.5))),
                                       fit=art.get("fit", "cover"), radius=radius)
        art_right, has_art = box[2], True
    if "grid" in tpl and image is not None:
        grid = tpl["grid"]
        others = cells if cells is not None else [c for c in map(_load_cell, spec.get("cells", [])) if c]
        products = [image] + list(others)[: int(grid.get("cells", 4)) - 1]
        box = _px_box(grid["box"], W, H)
        inset = round(float(grid.get("inset", 0.06)) * min(W, H))
        box = (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
        gap = max(2, round(float(grid.get("gap", 0.03)) * min(W, H)))
        radius = round(float(grid.get("radius", 0.04)) * min(W, H))
        for art, cell in zip(products, _grid_cells(box, len(products), gap), strict=True):
            need, limited = _place(canvas, art, cell, focal=tuple(grid.get("focal", (0.5, 0.5))), fit="cover",
                                   radius=radius)
            art_need, art_limited = max(art_need, need), art_limited or limited
        checks["grid_products"] = len(products)
        has_art = True
    if art_limited:
        checks["notes"].append(f"art needed ×{art_need:.2f} to fill its area; drawn at ×{MAX_ART_UPSCALE} over a "
                               "blurred extension (request art at least the placement's size)")

    # the copy area: the template's box for the text position, inside the safe zone
    boxes = tpl["text_box"]
    side = spec.get("text_position") or "left"
    frac = next((boxes[key] for key in (side, "default", "left") if isinstance(boxes.get(key), list)),
                next((v for v in boxes.values() if isinstance(v, list)), [0, 0, 1, 1]))
    tx0, ty0, tx1, ty1 = _px_box(frac, W, H)
    if boxes.get("after_art") and art_right:
        tx0 = art_right
    text_box: Box = (tx0 + margin, ty0 + margin, max(tx0 + margin + 1, tx1 - margin),
                     max(ty0 + margin + 1, ty1 - margin))
    text_box = (min(text_box[0], W - 1), min(text_box[1], H - 1), min(text_box[2], W), min(text_box[3], H))
    side = side if side in ("left", "right", "bottom") else "left"
    canvas, text_color, alpha = _backdrop(canvas, text_box, side, tpl.get("backdrop") or {}, has_art=has_art,
                                          required=MIN_CONTRAST)
    background = canvas.copy()

    # type: headline, subline and CTA fitted to the type scale, then stacked in the copy area
    x0, y0, x1, y1 = text_box
    box_w, box_h = x1 - x0, y1 - y0
    type_scale, gap = tpl["type"], max(2, round(float(tpl.get("gap", 0.035)) * H))
    cta_style = type_scale["cta"]
    cta = lines["cta"]
    button_h = min(round(float(cta_style.get("height", 0.18)) * H), int(box_h * 0.34)) if cta else 0
    room = box_h - (button_h + gap if cta else 0)

    def fitted(name: str, text: str, height: int) -> FittedText:
        style = type_scale[name]
        return fit_text(text, box_w, max(1, height), max_size=round(style["size"] * H * font_scale),
                        min_size=round(style.get("min", 0.04) * H), weight=style.get("weight", "regular"),
                        max_lines=int(style.get("lines", 2)), leading=float(style.get("leading", 1.25)),
                        balance=bool(style.get("balance", True)))

    headline_text, subline_text = lines["headline"], lines["subline"]
    headline = fitted("headline", headline_text, round((room - gap) * 0.6) if subline_text else room)
    subline = fitted("subline", subline_text, room - headline.height - (gap if headline.lines else 0))
    stack = [(n, t, f) for n, t, f in (("headline", headline_text, headline), ("subline", subline_text, subline))
             if f.lines]
    total = sum(f.height for _, _, f in stack) + gap * max(0, len(stack) - 1) + (button_h + gap if cta else 0)
    if not stack and cta:
        total -= gap
    valign = tpl.get("valign", "center")
    y = y0 if valign == "top" else (y1 - total if valign == "bottom" else y0 + (box_h - total) // 2)
    y = max(y0, y)
    align = tpl.get("align", "left")
    blocks: list[TextBlock] = []
    draw = ImageDraw.Draw(canvas)
    for name, text, fit in stack:
        large = is_large_text(fit.size, fit.weight, scale)
        block = TextBlock(name, (x0, y, x1, y + fit.height), fit, text_color, text=text,
                          required_contrast=LARGE_TEXT_CONTRAST if large else MIN_CONTRAST)
        _draw_block(draw, block, align=align)
        blocks.append(block)
        y += fit.height + gap

    tolerance = spec.get("color_tolerance", DEFAULT_COLOR_TOLERANCE)
    button = resolve_button_color(hex_to_rgb(colors.get("button", "#E8322E")),
                                  tolerance=float(tolerance if tolerance is not None else DEFAULT_COLOR_TOLERANCE))
    button_box: Box | None = None
    if cta and (button_h < 6 or box_w < 12):
        checks["notes"].append("cta: no room for the button at this size; not drawn")
        cta = ""
    if cta:
        label = fit_text(cta, int(box_w - button_h * 0.8), int(button_h * 0.78),
                         max_size=min(round(cta_style["size"] * H * font_scale), round(button_h * 0.5)),
                         min_size=round(cta_style.get("min", 0.04) * H), weight=cta_style.get("weight", "bold"),
                         max_lines=1)
        font = load_font(label.size, label.weight)
        label_w = int(max((font.getlength(line) for line in label.lines), default=0)) + 2
        bw = min(box_w, max(round(float(cta_style.get("min_width", 0.2)) * W), label_w + round(button_h * 0.9)))
        bx = x0 if align == "left" else x0 + (box_w - bw) // 2
        by = min(y, y1 - button_h)
        button_box = (bx, by, bx + bw, by + button_h)
        draw.rounded_rectangle((bx, by, bx + bw - 1, by + button_h - 1), radius=button_h // 2, fill=button.used)
        inner = (bx + (bw - label_w) // 2, by + (button_h - label.height) // 2, bx + bw, by + button_h)
        cta_block = TextBlock("cta", button_box, label, button.text, text=cta)
        cta_block.box = inner[:2] + button_box[2:]  # type: ignore[assignment]
        _draw_block(draw, cta_block)
        cta_block.box = button_box
        blocks.append(cta_block)

    # what a reviewer checks: typesetting rules, ellipsis, contrast of every text (CTA included)
    contrast: dict[str, dict] = {}
    for block in blocks:
        for problem in line_violations(block.text, block.fitted.lines, truncated=block.fitted.truncated,
                                       word_split=block.fitted.word_split):
            checks["violations"].append(f"{block.name}: {problem}")
        checks["notes"].extend(f"{block.name}: {note}" for note in block.fitted.notes)
        if block.name == "cta":
            value = color_contrast(block.color, button.used)
        else:
            value = worst_contrast(block.color, np.asarray(background.crop(block.box)))
        contrast[block.name] = {"ratio": round(value, 2), "required": block.required_contrast,
                                "large_text": block.required_contrast == LARGE_TEXT_CONTRAST}
        if value < block.required_contrast - 1e-9:
            checks["violations"].append(f"{block.name}: contrast {value:.2f}:1 below {block.required_contrast}:1")
    checks["contrast"] = contrast
    checks["ellipsized"] = [b.name for b in blocks if b.fitted.truncated]
    checks["button"] = {"requested": rgb_to_hex(button.requested), "used": rgb_to_hex(button.used),
                        "text": rgb_to_hex(button.text), "contrast": button.contrast, "delta_e": button.delta_e}
    checks["art_upscale"] = round(art_need, 3)
    checks["refused"] = button.refused
    return Composition(canvas, background, text_box, blocks, button_box, text_color, button.text, alpha,
                       template=tpl["name"], scale=scale, button=button, art_upscale=art_need,
                       art_limited=art_limited, checks=checks)


def frame_of(composition: Composition) -> dict:
    """Where the composition set each text and the button, as fractions of the canvas: `render["frame"]`,
    what the SDK's renderBanner draws over the textless background (creative.services.rendering stores it).

    Each line keeps its text and drawing origin (x, and y at the font's ascender, as Pillow and a CSS line
    box of `line-height: normal` both place it); sizes are fractions of the canvas height.
    """
    W, H = composition.image.size

    def box(b: Box) -> list[float]:
        return [round(b[0] / W, 5), round(b[1] / H, 5), round(b[2] / W, 5), round(b[3] / H, 5)]

    blocks = []
    for block in composition.blocks:
        blocks.append({
            "name": block.name, "text": block.text, "box": box(block.box), "weight": block.fitted.weight,
            "size": round(block.fitted.size / H, 5), "line_height": round(block.fitted.line_height / H, 5),
            "color": rgb_to_hex(block.color),
            "lines": [{"text": line, "x": round(x / W, 5), "y": round(y / H, 5)}
                      for line, (x, y) in zip(block.fitted.lines, block.origins, strict=False)],
        })
    frame: dict = {"width": W, "height": H, "template": composition.template, "blocks": blocks}
    if composition.button_box is not None and composition.button is not None:
        frame["button"] = {"box": box(composition.button_box), "color": rgb_to_hex(composition.button.used),
                           "text": rgb_to_hex(composition.button.text)}
    return frame


# ---------------------------------------------------------------- variants

def grid_cells_for(variant, count: int = 3) -> list[str]:
    """Storage names of other accepted images of the variant's kit for its grid, a different set per image."""
    if variant.kit_id is None or variant.image_id is None:
        return []
    from .models import ImageMaterial

    names = list(ImageMaterial.objects.filter(kit_id=variant.kit_id, review=ImageMaterial.Review.ACCEPTED)
                 .exclude(pk=variant.image_id).order_by("id").values_list("file", flat=True))
    if not names:
        return []
    start = variant.image_id % len(names)
    return [n for n in (names[start:] + names[:start])[:count] if n]


def render_spec_for(variant) -> dict:
    """The `render` object of API.md for a composed variant (plus the template and its grid's images)."""
    copy, layout = variant.copy, variant.layout
    kind = layout.kind if layout else variant.render_spec.get("layout", "single_image_text")
    spec = {
        "layout": kind,
        "template": (getattr(layout, "template", "") or "") if layout else variant.render_spec.get("template", ""),
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
        "color_tolerance": getattr(layout, "color_tolerance", DEFAULT_COLOR_TOLERANCE) if layout
        else DEFAULT_COLOR_TOLERANCE,
    }
    dynamic = dynamic_spec({name: spec[name] for name in ("headline", "subline", "cta")})
    if dynamic:  # the PNG shows the static lines; the front end or a re-render fills the dynamic ones
        spec["dynamic"] = dynamic
        for name in ("headline", "subline", "cta"):
            spec[name] = static_text(spec[name])
    tpl = layout_template(spec["template"], kind)
    spec["template"] = tpl["name"]
    if "grid" in tpl:
        spec["cells"] = grid_cells_for(variant, int(tpl["grid"].get("cells", 4)) - 1)
    # the brand colour as drawn, and the refusal (if any) the preview grid shows
    button = resolve_button_color(hex_to_rgb(spec["colors"]["button"]), tolerance=float(spec["color_tolerance"]))
    spec["colors"]["button"] = rgb_to_hex(button.used)
    spec["colors"]["button_text"] = rgb_to_hex(button.text)
    if button.used != button.requested:
        spec["colors"]["brand_button"] = rgb_to_hex(button.requested)
    if button.refused:
        spec["refused"] = button.refused
    return spec


def png_bytes(image: Image.Image) -> bytes:
    """PNG at zlib level 3: about twice as fast to encode as the default 6, for files a few percent larger."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def store_png(image: Image.Image, folder: str = "variants") -> str:
    """Save under MEDIA_ROOT named by content hash; returns the relative path."""
    data = png_bytes(image)
    name = f"{folder}/{hashlib.sha256(data).hexdigest()[:24]}.png"
    path = Path(settings.MEDIA_ROOT) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: readers never see half a file
    return name
