"""The built-in backend: illustration-like Pillow art, one look per style, no model weights.

It is the embedded default while no base model is registered, so the whole loop (generate,
tag, compose, rank) runs on a laptop. Every image is a pure function of (style mix, size,
seed): the same request always gives the same pixels. Provenance labels it "procedural".
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .base import Backend, GenerationError, ImageRequest, LoraSpec, ModelSpec, StepCallback

RGB = tuple[int, int, int]

# Colour schemes: (background top, background bottom, accent 1, accent 2, accent 3).
PALETTES: dict[str, tuple[RGB, RGB, RGB, RGB, RGB]] = {
    "festive_red": ((214, 38, 44), (150, 18, 30), (255, 204, 64), (255, 244, 214), (255, 120, 60)),
    "ocean_blue": ((40, 110, 220), (16, 52, 140), (120, 210, 255), (255, 255, 255), (255, 196, 60)),
    "fresh_green": ((70, 180, 110), (22, 110, 70), (230, 255, 200), (255, 214, 80), (20, 70, 50)),
    "royal_gold": ((246, 196, 70), (196, 132, 28), (255, 240, 180), (150, 60, 20), (255, 255, 255)),
    "violet": ((130, 70, 210), (60, 30, 120), (255, 140, 220), (140, 230, 255), (255, 255, 255)),
    "soft_pastel": ((236, 230, 222), (214, 206, 198), (180, 170, 190), (200, 190, 170), (150, 150, 160)),
    "night": ((22, 26, 48), (8, 10, 22), (0, 230, 255), (255, 60, 200), (120, 255, 120)),
}

STYLE_PALETTES: dict[str, list[str]] = {
    "flat": ["festive_red", "ocean_blue", "fresh_green", "violet"],
    "clay": ["soft_pastel", "ocean_blue", "violet", "fresh_green"],
    "photo": ["soft_pastel", "ocean_blue", "fresh_green"],
    "illustration": ["ocean_blue", "fresh_green", "festive_red", "violet"],
    "neon": ["night"],
    "gold": ["festive_red", "royal_gold", "night"],
}

# The built-in styles and the tags each implies, like a registered LoRA's implied tags.
PROCEDURAL_STYLES: dict[str, dict] = {
    "flat": {"trigger": "flat vector art", "implied_tags": {"visual_style": ["flat"], "subject": ["abstract"]}},
    "clay": {"trigger": "clay 3d render", "implied_tags": {"visual_style": ["3d"]}},
    "photo": {"trigger": "product photo", "implied_tags": {"visual_style": ["photo"], "subject": ["product"]}},
    "illustration": {"trigger": "storybook illustration",
                     "implied_tags": {"visual_style": ["illustration"], "subject": ["scenery"]}},
    "neon": {"trigger": "neon line art", "implied_tags": {"visual_style": ["illustration"], "subject": ["chart"]}},
    "gold": {"trigger": "gold coins 3d", "implied_tags": {"visual_style": ["3d"], "subject": ["gold", "coins"]}},
}
BASE_STYLE = "illustration"  # what an empty mix draws


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB, *, horizontal: bool = False) -> Image.Image:
    w, h = size
    n = w if horizontal else h
    t = np.linspace(0.0, 1.0, n)[:, None]
    line = (np.array(top)[None, :] * (1 - t) + np.array(bottom)[None, :] * t).astype(np.uint8)
    arr = np.broadcast_to(line[None, :, :], (h, w, 3)) if horizontal else np.broadcast_to(line[:, None, :], (h, w, 3))
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3))  # type: ignore[return-value]


def _sphere(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, base: RGB, light: RGB) -> None:
    """A shaded ball: concentric discs drifting towards the light, dark rim to bright highlight."""
    rings = max(6, int(r / 2))
    for i in range(rings):
        t = i / rings
        rr = r * (1 - 0.85 * t)
        ox, oy = cx - r * 0.35 * t, cy - r * 0.35 * t
        draw.ellipse([ox - rr, oy - rr, ox + rr, oy + rr], fill=_mix(_mix(base, (0, 0, 0), 0.35), light, t ** 1.3))


def _style_flat(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, w, h], fill=pal[0])
    yield
    for _ in range(4):
        r = rng.uniform(0.2, 0.5) * h
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_mix(pal[0], pal[1], 0.5))
    yield
    card_w, card_h = w * 0.28, h * 0.62
    x0, y0 = w * rng.uniform(0.55, 0.65), h * 0.2
    draw.rounded_rectangle([x0, y0, x0 + card_w, y0 + card_h], radius=h * 0.06, fill=pal[3])
    draw.rectangle([x0, y0 + card_h * 0.25, x0 + card_w, y0 + card_h * 0.4], fill=pal[2])
    yield
    cr = h * 0.16
    cx, cy = x0 - cr * 0.6, y0 + card_h * 0.85
    draw.ellipse([cx - cr, cy - cr, cx + cr, cy + cr], fill=pal[2])
    draw.ellipse([cx - cr * 0.7, cy - cr * 0.7, cx + cr * 0.7, cy + cr * 0.7], fill=pal[4])
    yield
    for _ in range(14):
        x, y, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.02, 0.05) * h
        a = rng.uniform(0, math.tau)
        pts = [(x + s * math.cos(a + k * math.tau / 3), y + s * math.sin(a + k * math.tau / 3)) for k in range(3)]
        draw.polygon(pts, fill=rng.choice(pal[2:]))
    yield


def _style_clay(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    img.paste(_gradient((w, h), _mix(pal[0], (255, 255, 255), 0.3), pal[1]))
    yield
    shadows = Image.new("L", (w, h), 0)
    sd = ImageDraw.Draw(shadows)
    balls = []
    for _ in range(rng.randint(3, 5)):
        r = rng.uniform(0.12, 0.3) * h
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.45, 0.75) * h
        balls.append((cx, cy, r, rng.choice(pal[2:])))
        sd.ellipse([cx - r * 1.1, cy + r * 0.7, cx + r * 1.1, cy + r * 1.15], fill=110)
    shadows = shadows.filter(ImageFilter.GaussianBlur(max(1, h * 0.03)))
    img.paste(Image.new("RGB", (w, h), (40, 30, 40)), mask=shadows)
    yield
    draw = ImageDraw.Draw(img)
    for cx, cy, r, colour in sorted(balls, key=lambda b: b[1]):
        _sphere(draw, cx, cy, r, colour, (255, 255, 255))
        yield
    pw, ph = w * 0.22, h * 0.3
    x0, y0 = w * 0.5 - pw / 2, h * 0.12
    for i in range(6):  # a rounded pill with layered shading reads as a soft 3D object
        t = i / 6
        draw.rounded_rectangle([x0 + i, y0 + i, x0 + pw - i, y0 + ph - i], radius=ph / 2,
                               fill=_mix(_mix(pal[2], (0, 0, 0), 0.3), (255, 255, 255), t * 0.7))
    yield


def _style_photo(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    img.paste(_gradient((w, h), _mix(pal[0], (200, 200, 200), 0.4), _mix(pal[1], (90, 90, 90), 0.4)))
    yield
    bokeh = Image.new("RGB", (w, h), (0, 0, 0))
    bd = ImageDraw.Draw(bokeh)
    for _ in range(18):
        r = rng.uniform(0.04, 0.14) * h
        x, y = rng.uniform(0, w), rng.uniform(0, h * 0.6)
        bd.ellipse([x - r, y - r, x + r, y + r], fill=_mix(pal[3], (255, 240, 220), 0.5))
    bokeh = bokeh.filter(ImageFilter.GaussianBlur(max(1, h * 0.04)))
    img.paste(Image.blend(img, bokeh, 0.35))
    yield
    draw = ImageDraw.Draw(img)
    table_y = h * 0.72
    draw.rectangle([0, table_y, w, h], fill=_mix(pal[1], (60, 50, 40), 0.5))
    bw, bh = w * 0.2, h * 0.42
    x0 = w * rng.uniform(0.45, 0.6)
    for i in range(int(bw)):  # a lit box: brightness falls off across its face
        t = i / max(1.0, bw)
        draw.line([x0 + i, table_y - bh, x0 + i, table_y], fill=_mix((235, 230, 220), pal[2], 0.3 + 0.5 * t))
    yield
    arr = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    vignette = np.clip(1.15 - 0.45 * dist, 0.45, 1.0)[..., None]
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 6, arr.shape)
    grey = arr.mean(axis=2, keepdims=True)
    arr = (0.55 * arr + 0.45 * grey) * vignette + noise  # muted, lens-like
    img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(0.6)))
    yield


def _style_illustration(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    img.paste(_gradient((w, h), _mix(pal[0], (255, 255, 255), 0.45), pal[0]))
    yield
    draw = ImageDraw.Draw(img)
    sr = h * 0.14
    sx, sy = w * rng.uniform(0.65, 0.85), h * 0.25
    draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=pal[4])
    yield
    outline = _mix(pal[1], (0, 0, 0), 0.5)
    for layer in range(3):
        base_y = h * (0.55 + 0.14 * layer)
        amp, freq, phase = h * 0.08, rng.uniform(1.0, 2.5), rng.uniform(0, math.tau)
        pts = [(x, base_y + amp * math.sin(freq * x / w * math.tau + phase)) for x in range(0, w + 8, 8)]
        colour = _mix(pal[1], pal[2], 0.25 * layer)
        draw.polygon([(0, h)] + pts + [(w, h)], fill=colour, outline=outline)
        yield
    px, py, s = w * rng.uniform(0.2, 0.4), h * 0.58, h * 0.13
    draw.ellipse([px - s * 0.45, py - s * 1.9, px + s * 0.45, py - s], fill=(250, 214, 180), outline=outline, width=2)
    draw.rounded_rectangle([px - s * 0.6, py - s, px + s * 0.6, py + s * 0.6], radius=s * 0.3, fill=pal[3],
                           outline=outline, width=2)
    yield


def _style_neon(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    img.paste(_gradient((w, h), pal[0], pal[1]))
    yield
    glow = Image.new("RGB", (w, h), (0, 0, 0))
    gd = ImageDraw.Draw(glow)
    horizon = h * 0.6
    for i in range(-8, 9):
        gd.line([(w / 2 + i * w * 0.03, horizon), (w / 2 + i * w * 0.2, h)], fill=pal[2], width=2)
    for k in range(6):
        y = horizon + (h - horizon) * (k / 6) ** 1.6
        gd.line([(0, y), (w, y)], fill=pal[2], width=2)
    yield
    pts, value = [], h * 0.5
    for x in range(0, w + 1, max(4, w // 24)):
        value = min(h * 0.55, max(h * 0.1, value - rng.uniform(-0.04, 0.09) * h))
        pts.append((x, value))
    gd.line(pts, fill=pal[3], width=max(2, h // 60))
    r = h * 0.12
    cx, cy = w * 0.8, h * 0.3
    gd.ellipse([cx - r, cy - r, cx + r, cy + r], outline=pal[4], width=max(2, h // 70))
    yield
    blurred = glow.filter(ImageFilter.GaussianBlur(max(1, h * 0.02)))
    arr = np.asarray(img, dtype=np.int32) + np.asarray(blurred, dtype=np.int32) * 2 + np.asarray(glow, dtype=np.int32)
    img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"))
    yield


def _style_gold(img: Image.Image, rng: random.Random, pal) -> Iterator[None]:
    w, h = img.size
    img.paste(_gradient((w, h), pal[0], pal[1]))
    yield
    draw = ImageDraw.Draw(img)
    gold, light, dark = (236, 178, 40), (255, 240, 170), (150, 96, 10)
    for stack in range(rng.randint(3, 4)):
        cx = w * (0.45 + 0.13 * stack) + rng.uniform(-0.03, 0.03) * w
        rx, ry = h * 0.13, h * 0.045
        base = h * 0.85
        for c in range(rng.randint(4, 9)):
            y = base - c * ry * 1.05
            draw.ellipse([cx - rx, y - ry + ry * 0.6, cx + rx, y + ry + ry * 0.6], fill=dark)
            draw.ellipse([cx - rx, y - ry, cx + rx, y + ry], fill=gold, outline=dark)
            draw.ellipse([cx - rx * 0.6, y - ry * 0.6, cx + rx * 0.6, y + ry * 0.6], outline=light, width=1)
        yield
    x0, y0, bw, bh = w * 0.12, h * 0.55, w * 0.22, h * 0.22
    draw.polygon([(x0, y0 + bh), (x0 + bw, y0 + bh), (x0 + bw * 0.82, y0), (x0 + bw * 0.18, y0)], fill=gold, outline=dark)
    draw.polygon([(x0 + bw * 0.18, y0), (x0 + bw * 0.82, y0), (x0 + bw * 0.74, y0 + bh * 0.3),
                  (x0 + bw * 0.26, y0 + bh * 0.3)], fill=light)
    yield
    for _ in range(10):
        x, y, s = rng.uniform(0, w), rng.uniform(0, h * 0.6), rng.uniform(0.015, 0.04) * h
        draw.polygon([(x, y - s * 2), (x + s * 0.5, y), (x, y + s * 2), (x - s * 0.5, y)], fill=light)
        draw.polygon([(x - s * 2, y), (x, y + s * 0.5), (x + s * 2, y), (x, y - s * 0.5)], fill=light)
    yield


RENDERERS: dict[str, Callable[[Image.Image, random.Random, tuple], Iterator[None]]] = {
    "flat": _style_flat, "clay": _style_clay, "photo": _style_photo, "illustration": _style_illustration,
    "neon": _style_neon, "gold": _style_gold,
}


def render_style(style: str, *, size: tuple[int, int], seed: int, on_layer: Callable[[], None] = lambda: None
                 ) -> Image.Image:
    if style not in RENDERERS:
        raise GenerationError(f"unknown procedural style '{style}' (known: {', '.join(sorted(RENDERERS))}).")
    rng = random.Random(f"{style}:{seed}")  # noqa: S311 - art, not security
    palette = PALETTES[rng.choice(STYLE_PALETTES[style])]
    img = Image.new("RGB", size, palette[0])
    for _ in RENDERERS[style](img, rng, palette):
        on_layer()
    return img


class ProceduralBackend(Backend):
    name = "procedural"
    max_batch = 1  # each image reports its own steps; batching buys nothing without a model

    def render(self, request: ImageRequest, *, on_step: StepCallback) -> Image.Image:
        size = (request.width, request.height)
        weighted = [(name, w) for name, w in request.mix if w > 0] or [(BASE_STYLE, 1.0)]
        steps_total = self.steps_for(request)
        calls = 0

        def on_layer() -> None:
            nonlocal calls
            if calls < steps_total - 1:  # keep the last step for the finished image
                calls += 1
                on_step(1)

        result, cumulative = None, 0.0
        for name, weight in weighted:
            layer = render_style(name, size=size, seed=request.seed, on_layer=on_layer)
            cumulative += weight
            result = layer if result is None else Image.blend(result, layer, weight / cumulative)
        if request.init_image is not None:
            from ..families import centre_crop

            init = centre_crop(request.init_image.convert("RGB"), size)
            result = Image.blend(init, result, max(0.0, min(1.0, request.strength)))
        while calls < steps_total:
            calls += 1
            on_step(1)
        return result

    def generate_batch(self, batch: list[ImageRequest], *, model: ModelSpec | None, loras: dict[str, LoraSpec],
                       on_step: StepCallback) -> list[Image.Image]:
        for request in batch:
            for name, _ in request.mix:
                if name not in RENDERERS:
                    raise GenerationError(f"unknown procedural style '{name}' (known: {', '.join(sorted(RENDERERS))}).")
        images = []
        for i, request in enumerate(batch):
            request.details = {"batch_size": len(batch), "batch_index": i}
            images.append(self.render(request, on_step=on_step))
        return images

    def describe(self, *, model: ModelSpec | None) -> dict:
        return {"backend": self.name, "note": "built-in procedural art (Pillow), not a diffusion model",
                "device": "cpu"}
