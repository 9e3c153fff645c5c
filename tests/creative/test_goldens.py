"""Visual regression: each layout template × language × placement size against a golden image.

Goldens are stored at half size under tests/creative/goldens/ (small files; layout, type and colour changes
still show). The comparison is perceptual rather than exact, so anti-aliasing differences between FreeType
builds pass while a moved block, a changed colour or a different line break fails:
both images are blurred a little (radius 1) and compared per pixel; at most 0.5% of pixels may differ by more
than 40 levels in a channel, and the mean difference must stay under 2 levels.

Refresh after an intended change (then look at every file before committing):
    KALEIDO_UPDATE_GOLDENS=1 .venv/bin/pytest -p no:cacheprovider tests/creative/test_goldens.py
On a mismatch the render, the golden and their difference are written to test-artifacts/creative/goldens/.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from creative.composition import compose
from creative.layout_specs import KIND_DEFAULT_TEMPLATE

GOLDENS = Path(__file__).resolve().parent / "goldens"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "creative" / "goldens"
SIZES = [(750, 300), (343, 160)]
COPY = {
    "en": ("Gold Savings Plan: 4.5% a year", "Grow your savings with no fees", "Start saving"),
    "zh": ("新人专享红包，最高88元！", "首次存入即可领取现金红包", "领红包"),
}
MAX_DIFFERENT_SHARE, DIFFERENT_LEVELS, MAX_MEAN_DIFFERENCE = 0.005, 40, 2.0


def perceptual_difference(a: Image.Image, b: Image.Image) -> tuple[float, float]:
    """(share of pixels differing by more than DIFFERENT_LEVELS, mean difference) after a light blur."""
    blur = ImageFilter.GaussianBlur(1)
    diff = np.asarray(ImageChops.difference(a.convert("RGB").filter(blur), b.convert("RGB").filter(blur)))
    return float((diff.max(axis=2) > DIFFERENT_LEVELS).mean()), float(diff.mean())


def _art(seed: int, size: tuple[int, int]) -> Image.Image:
    """Deterministic product art made here (not by generation, whose styles may change): a vertical
    gradient with a few discs, drawn at the placement's size."""
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    image = Image.fromarray(np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(h // 8, h // 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def _render(kind: str, language: str, size: tuple[int, int], **overrides) -> Image.Image:
    headline, subline, cta = COPY[language]
    spec = {"layout": kind, "headline": headline, "subline": subline, "cta": cta, "language": language,
            "colors": {"button": "#E8322E", "background": "#F6F2E8"}, "font_scale": 1.0,
            "background_style": "solid", **overrides}
    art = [_art(seed, size) for seed in (3, 5, 8, 13)]
    composition = compose(spec, art[0], size, cells=art[1:])
    assert composition.violations == [], composition.violations
    return composition.image.resize((size[0] // 2, size[1] // 2), Image.Resampling.BOX)


CASES = [(kind, language, size) for kind in KIND_DEFAULT_TEMPLATE for language in COPY for size in SIZES]


@pytest.mark.parametrize(("kind", "language", "size"), CASES,
                         ids=[f"{KIND_DEFAULT_TEMPLATE[k]}-{lang}-{w}x{h}" for k, lang, (w, h) in CASES])
def test_render_matches_its_golden(kind, language, size):
    name = f"{KIND_DEFAULT_TEMPLATE[kind]}-{language}-{size[0]}x{size[1]}.png"
    rendered = _render(kind, language, size)
    golden_path = GOLDENS / name
    if os.environ.get("KALEIDO_UPDATE_GOLDENS") == "1":
        GOLDENS.mkdir(exist_ok=True)
        rendered.save(golden_path, optimize=True)
        pytest.skip(f"golden {name} refreshed")
    assert golden_path.exists(), f"no golden {name}: run with KALEIDO_UPDATE_GOLDENS=1 (see the docstring)"
    golden = Image.open(golden_path)
    assert golden.size == rendered.size
    share, mean = perceptual_difference(rendered, golden)
    if share > MAX_DIFFERENT_SHARE or mean > MAX_MEAN_DIFFERENCE:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        rendered.save(ARTIFACTS / name.replace(".png", "-actual.png"))
        golden.convert("RGB").save(ARTIFACTS / name.replace(".png", "-golden.png"))
        ImageChops.difference(rendered, golden.convert("RGB")).save(ARTIFACTS / name.replace(".png", "-diff.png"))
    assert share <= MAX_DIFFERENT_SHARE and mean <= MAX_MEAN_DIFFERENCE, (
        f"{name}: {share:.2%} of pixels differ, mean {mean:.2f}; see {ARTIFACTS}")


def test_the_comparison_catches_a_real_change_and_forgives_a_tiny_one():
    base = _render("single_image_text", "en", (750, 300))
    recoloured = _render("single_image_text", "en", (750, 300), colors={"button": "#1F6FEB", "background": "#F6F2E8"})
    other_copy = _render("single_image_text", "en", (750, 300), headline="Put spare cash to work")
    for changed in (recoloured, other_copy):
        share, mean = perceptual_difference(base, changed)
        assert share > MAX_DIFFERENT_SHARE
    jitter = Image.fromarray(np.clip(np.asarray(base).astype(int) + 1, 0, 255).astype(np.uint8))
    share, mean = perceptual_difference(base, jitter)
    assert share == 0 and mean <= MAX_MEAN_DIFFERENCE
