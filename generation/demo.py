"""The generation step of `manage.py demo`: images for each kit through a generation job, then auto-tags."""

from __future__ import annotations

from creative.demo_context import DemoContext

from .models import GenerationJob
from .services import job_accept, job_create, job_run, size_for_placement
from .tagging import kit_autotag

# Visibly different looks; two images each, so every kit gets at least 6 pictures.
DEMO_MIXES = [{"flat": 1.0}, {"clay": 1.0}, {"gold": 1.0}, {"photo": 1.0}]
IMAGES_PER_MIX = 2


def run(ctx: DemoContext) -> None:
    """For each kit without images: a procedural job run eagerly in-process, then the kit is auto-tagged."""
    for number, kit in enumerate(ctx.kits):
        if kit.images.exists():
            ctx.say(f"Generation: {kit.name} already has {kit.images.count()} images; kept.")
            continue
        # Art at least the placement's size: composition never enlarges art past a small factor.
        target = max(kit.placement.width, kit.placement.height)
        width, height = size_for_placement(kit.placement, long_side=max(512, -(-target // 8) * 8))
        job = job_create(
            kit=kit, backend=GenerationJob.Backend.PROCEDURAL, mixes=DEMO_MIXES, images_per_mix=IMAGES_PER_MIX,
            width=width, height=height, seed=1000 * (number + 1), steps=6,
        )
        # The demo runs in one process: call the worker's function directly instead of the queue.
        job = job_run(job_id=job.pk)
        job_accept(job=job)  # the demo keeps every image; an operator accepts or rejects each on the job
        tagged = kit_autotag(kit)
        styles = ", ".join(name for mix in job.mixes for name in mix)
        ctx.say(f"Generation: job {job.pk} {job.status}: {job.images.count()} {width}×{height} images "
                f"for {kit.name} ({styles}, procedural backend); {tagged} materials auto-tagged.")
