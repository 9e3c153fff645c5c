"""The upscaler step "where it must": a "hires fix" pass for an image its placement would enlarge too much.

A family generates at its native sizes; fitting a 512×512 SD 1.5 image to a 1200×1200 placement would need
2.3× enlargement, which Lanczos alone only blurs. So, past `families.MAX_UPSCALE`, the generated image is
centre-cropped to the placement's aspect, Lanczos-enlarged to the placement's size (rounded up to multiples
of 8), and run through image-to-image at a low strength (`GENERATION_HIRES_STRENGTH`, 0.35 by default) with
the same pipeline, LoRA mix, prompt, seed, sampler and IP-Adapter: the model redraws the detail at the new
resolution while keeping the picture. Inpainted and outpainted images keep their mask (enlarged the same way),
so the kept product is not redrawn. A ControlNet is not applied in this pass (image-to-image only).

The pass runs at most at `HIRES_MAX_SCALE` (2×) the family's native size per side (4× its pixels; a family
without buckets: 2× the generated image): SD 1.5 redraws a 3000×3000 placement at 1024×1024, and Lanczos
enlarges the rest (`hires.capped_at`, and `fit` with a scale over 1, in provenance).

The pass is recorded in provenance (`hires`: geometry, strength, seed, steps and the resolved scheduler), so
`provenance.reproduce` replays it. Strength 0 turns the step off: such an image is kept at its own resolution.
Out of accelerator memory, the pass is given up: the image is kept as generated (fitted as without the pass)
and `hires` records why (`{"skipped": "out of GPU memory …"}`).
"""

from __future__ import annotations

import math
from dataclasses import replace

from django.conf import settings
from PIL import Image

from .engine import Backend, ImageRequest, LoraSpec, ModelSpec, StepCallback
from .families import hires_plan, needs_hires, profile

HIRES_MAX_SCALE = 2.0  # the pass's largest size per side, as a multiple of the family's native size


def hires_strength() -> float:
    return float(getattr(settings, "GENERATION_HIRES_STRENGTH", 0.35) or 0.0)


def hires_wanted(generated: tuple[int, int], target: tuple[int, int] | None, *, strength: float) -> bool:
    """Whether an image of size `generated` gets the pass to fill `target` (the placement's size). The one rule:
    progress asks it of the size a request will be generated at, the saved image of its actual size."""
    return bool(target and strength > 0 and needs_hires(generated, target))


def hires_size_cap(family: str, generated: tuple[int, int]) -> int:
    """The most pixels the pass runs at: HIRES_MAX_SCALE² × the family's largest native size (its buckets), or
    × the generated image when that is larger or the family has no buckets (tiny test pipelines, fine-tunes)."""
    native = max([w * h for w, h in profile(family).sizes] + [generated[0] * generated[1]])
    return int(HIRES_MAX_SCALE ** 2 * native)


def capped_target(target: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """`target`, or the largest size of its aspect within max_pixels once rounded up to multiples of 8."""
    tw, th = target
    if (-(-tw // 8) * 8) * (-(-th // 8) * 8) <= max_pixels:
        return target
    shrink = math.sqrt(max_pixels / (tw * th))
    # (a hair over the product so 3000 × √(1024²/3000²) is 1024, not 1023.99…)
    return max(8, int(tw * shrink + 1e-6) // 8 * 8), max(8, int(th * shrink + 1e-6) // 8 * 8)


def _pass_steps(steps: int, strength: float) -> int:
    """The pass's schedule length: the job's steps, or more when steps × strength would round to no step at all."""
    n = max(1, steps)
    while int(n * strength) < 1:
        n += 1
    return n


def hires_steps(request: ImageRequest, *, strength: float) -> int:
    """Denoising steps the pass reports (image-to-image runs steps × strength of its schedule)."""
    return int(_pass_steps(request.steps, strength) * strength)


def hires_fix(*, backend: Backend, request: ImageRequest, image: Image.Image, model: ModelSpec | None,
              loras: dict[str, LoraSpec], target: tuple[int, int], strength: float, on_step: StepCallback,
              scheduler_config: dict | None = None, capped_at: tuple[int, int] | None = None
              ) -> tuple[Image.Image, dict]:
    """The enlarged, redrawn image (at the plan's size: a few pixels over the target at most, or under the size cap,
    `capped_at` in the record, the rest left to Lanczos) and its record.

    `capped_at`: the size a recorded pass was capped at (a replay), so an image replays as it was made even
    if HIRES_MAX_SCALE has changed since; None computes the cap from today's rule."""
    cap = capped_at or capped_target(target, hires_size_cap(model.family if model else "other", image.size))
    plan = hires_plan(image.size, cap)
    size = tuple(plan["size"])
    enlarged = image.convert("RGB").crop(tuple(plan["crop"])).resize(size, Image.Resampling.LANCZOS)
    mask = None
    if request.mask_image is not None:
        from .families import centre_crop

        mask = (centre_crop(request.mask_image.convert("L"), image.size).crop(tuple(plan["crop"]))
                .resize(size, Image.Resampling.BILINEAR))
    second = replace(request, width=size[0], height=size[1], init_image=enlarged, strength=strength,
                     mask_image=mask, control=None, steps=_pass_steps(request.steps, strength), scheduler_config=scheduler_config, details={})
    (redrawn,) = backend.generate_batch([second], model=model, loras=loras, on_step=on_step)
    record = {"upscaler": "lanczos+img2img", "from": list(image.size), "target": list(target), "crop": plan["crop"], "size": plan["size"],
              "strength": strength, "seed": second.seed, "steps": second.steps,
              "scheduler_config": second.details.get("scheduler_config"),
              "capped_at": list(cap) if cap != target else None}
    return redrawn, record
