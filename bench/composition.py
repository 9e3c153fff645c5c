"""Composition benchmark: variants per second on one core, and what a reviewer would flag, on the demo's set.

    .venv/bin/python bench/composition.py [--images 8] [--scale 1] [--art placement] [--limit 0] [--json out.json]

Renders the demo's copies (creative.demo.COPIES) × its layouts × procedural images (generation's own
styles, at the size the demo requests and at the placement's size) at each placement's size, the PNG
encoding included, in this one process (one core). Prints variants/s and the counts of typesetting
violations, ellipsized blocks, refusals and art that needed more than the upscale limit, as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")
os.environ.setdefault("DEBUG", "1")


def demo_variants(images_per_placement: int, art_size: str):
    """(spec, art, size) for the demo's copies × layouts × images, like `manage.py demo` combines them."""
    from creative.demo import COPIES, PLACEMENTS
    from generation.engine.procedural import render_style

    styles = ["flat", "clay", "gold", "photo"]
    for slug, _name, width, height, _surface, layouts, _cap in PLACEMENTS:
        if art_size == "demo":  # what generation/demo.py asks for today: long side 512
            art_w, art_h = 512, round(512 * height / width / 8) * 8
        elif art_size == "retina":  # twice the placement's size, for 2x renders
            art_w, art_h = 2 * width, 2 * height
        else:  # the placement's size
            art_w, art_h = width, height
        arts = [render_style(styles[i % len(styles)], size=(art_w, art_h), seed=1000 + i)
                for i in range(images_per_placement)]
        for headline, subline, cta, language in COPIES:
            for _lname, kind, button, scale, position, background, _tags in layouts:
                spec = {"layout": kind, "headline": headline, "subline": subline, "cta": cta, "language": language,
                        "colors": {"button": button, "background": "#F6F2E8"}, "font_scale": scale,
                        "text_position": position, "background_style": background}
                for art in arts:
                    yield slug, spec, art, (width, height), arts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8, help="procedural images per placement (demo: 8)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 or 2 (retina)")
    parser.add_argument("--art", choices=["demo", "placement", "retina"], default="placement",
                        help="art at the demo's requested size (512 long side), the placement's size, or twice it")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many variants (0: all)")
    parser.add_argument("--json", help="write the numbers here too")
    args = parser.parse_args()

    import django

    django.setup()
    from creative.composition import compose, load_font, png_bytes
    from creative.typesetting import segment

    load_font(20, "bold"), segment("预热")  # fonts and the Chinese dictionary load once per process, not timed
    items = list(demo_variants(args.images, args.art))
    if args.limit:
        items = items[: args.limit]
    times, violations, ellipsized, refused, limited, notes = [], 0, 0, 0, 0, {}
    cpu_start = time.process_time()
    for _slug, spec, art, size, arts in items:
        start = time.perf_counter()
        composition = compose(spec, art, size, scale=args.scale, cells=[a for a in arts if a is not art][:3])
        png_bytes(composition.image)  # what store_png writes
        times.append(time.perf_counter() - start)
        violations += len(composition.violations)
        ellipsized += len(composition.checks["ellipsized"])
        refused += bool(composition.refused)
        limited += composition.art_limited
        for note in composition.checks["notes"]:
            notes[note.split(":")[0]] = notes.get(note.split(":")[0], 0) + 1
    cpu = time.process_time() - cpu_start  # CPU time of this one process: the per-core rate on a shared machine
    total = sum(times)
    result = {
        "variants": len(items), "scale": args.scale, "art": args.art, "seconds": round(total, 2),
        "variants_per_second": round(len(items) / total, 1), "variants_per_cpu_second": round(len(items) / cpu, 1),
        "ms_median": round(statistics.median(times) * 1000, 1),
        "ms_p95": round(sorted(times)[int(len(times) * 0.95) - 1] * 1000, 1),
        "violations": violations, "ellipsized_blocks": ellipsized, "refused": refused, "art_limited": limited,
    }
    print("| variants | scale | art | variants/s wall | variants per CPU-second | median ms | p95 ms | "
          "kinsoku/orphan/contrast violations | ellipsized | refused | art over ×1.25 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {result['variants']} | {args.scale:g}× | {args.art} | {result['variants_per_second']} | "
          f"{result['variants_per_cpu_second']} | "
          f"{result['ms_median']} | {result['ms_p95']} | {violations} | {ellipsized} | {refused} | {limited} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
