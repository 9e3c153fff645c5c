"""Every variant the demo makes (its copies × its images × its layouts, at each placement's size) renders
through the template engine with no kinsoku, orphan, split-word or contrast violation, and nothing refused.

The images are the demo's own: generation's procedural styles at the size generation/demo.py requests.
A contact sheet of each placement is written to test-artifacts/creative/ for a designer to look at.
"""

from pathlib import Path

import pytest
from PIL import Image

from creative.composition import MIN_CONTRAST, compose, worst_contrast
from creative.demo import COPIES, PLACEMENTS
from generation.engine.procedural import render_style

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "creative"
DEMO_STYLES = ["flat", "clay", "gold", "photo"]  # generation/demo.py: DEMO_MIXES, two images each
IMAGES_PER_STYLE = 2


def _demo_images(width: int, height: int) -> list[Image.Image]:
    art_w, art_h = 512, max(8, round(512 * height / width / 8) * 8)  # size_for_placement(long_side=512)
    return [render_style(style, size=(art_w, art_h), seed=1000 + 10 * n + i)
            for n, style in enumerate(DEMO_STYLES) for i in range(IMAGES_PER_STYLE)]


@pytest.mark.slow
@pytest.mark.parametrize("placement", PLACEMENTS, ids=[p[0] for p in PLACEMENTS])
def test_every_demo_variant_renders_without_a_violation(placement):
    import numpy as np

    slug, _name, width, height, _surface, layouts, _cap = placement
    images = _demo_images(width, height)
    problems, sheet_tiles, count = [], [], 0
    for c, (headline, subline, cta, language) in enumerate(COPIES):
        for lname, kind, button, scale, position, background, _tags in layouts:
            spec = {"layout": kind, "headline": headline, "subline": subline, "cta": cta, "language": language,
                    "colors": {"button": button, "background": "#F6F2E8"}, "font_scale": scale,
                    "text_position": position, "background_style": background}
            for i, image in enumerate(images):
                others = [im for im in images if im is not image][:3]
                composition = compose(spec, image, (width, height), cells=others)
                count += 1
                key = f"{slug} copy {c} · {lname} · image {i}"
                problems += [f"{key}: {v}" for v in composition.violations]
                if composition.refused:
                    problems.append(f"{key}: refused: {composition.refused}")
                if composition.checks["ellipsized"]:
                    problems.append(f"{key}: ellipsized {composition.checks['ellipsized']}")
                assert {b.name for b in composition.blocks} == {"headline", "subline", "cta"}, key
                region = np.asarray(composition.background.crop(composition.text_region))
                assert worst_contrast(composition.text_color, region) >= MIN_CONTRAST, key
                if i == c % len(images):
                    sheet_tiles.append(composition.image)
    assert count == len(COPIES) * len(layouts) * len(images)
    assert problems == [], "\n".join(problems[:20])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    columns = len(layouts)
    sheet = Image.new("RGB", (columns * width, -(-len(sheet_tiles) // columns) * height), "white")
    for n, tile in enumerate(sheet_tiles):
        sheet.paste(tile, ((n % columns) * width, (n // columns) * height))
    sheet.save(ARTIFACTS / f"demo-{slug}.png")
