"""The upscaler step "where it must": a "hires fix" pass for an image its placement would enlarge too much.

A family generates at its native sizes; fitting a 512×512 SD 1.5 image to a 1200×1200 placement would need
2.3× enlargement, which Lanczos alone only blurs. So, past `families.MAX_UPSCALE`, the generated image is
centre-cropped to the placement's aspect, Lanczos-enlarged to the placement's size (rounded up to multiples
of 8), and run through image-to-image at a low strength (`GENERATION_HIRES_STRENGTH`, 0.35 by default) with
the same pipeline, LoRA mix, prompt, seed, sampler and IP-Adapter: the model redraws the detail at the new
resolution while keeping the picture. Inpainted and outpainted images keep their mask (enlarged the same way),
so the kept product is not redrawn. A ControlNet is not applied in this pass (image-to-image only).

The pass is recorded in provenance (`hires`: geometry, strength, seed, steps and the resolved scheduler), so
`provenance.reproduce` replays it. Strength 0 turns the step off: such an image is kept at its own resolution.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from PIL import Image

from .engine import Backend, ImageRequest, LoraSpec, ModelSpec, StepCallback
from .families import hires_plan, needs_hires


def hires_strength() -> float:
    return float(getattr(settings, "GENERATION_HIRES_STRENGTH", 0.35) or 0.0)


def hires_wanted(request: ImageRequest, target: tuple[int, int] | None, *, strength: float) -> bool:
    """Whether an image generated for this request needs the pass to fill `target` (the placement's size)."""
    return bool(target and strength > 0 and needs_hires((request.width, request.height), target))


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
              scheduler_config: dict | None = None) -> tuple[Image.Image, dict]:
    """The enlarged, redrawn image (at the plan's size, a few pixels over the target at most) and its record."""
    plan = hires_plan(image.size, target)
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
              "scheduler_config": second.details.get("scheduler_config")}
    return redrawn, record
