"""The upscaler step: an image its placement would enlarge past MAX_UPSCALE gets a hires-fix pass, and replays."""

from __future__ import annotations

import numpy as np
from PIL import Image

from generation import services
from generation.families import fit_plan, hires_plan, needs_hires
from generation.models import GenerationJob


def _pixels(material) -> np.ndarray:
    with material.file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def test_the_hires_geometry_crops_to_the_placement_and_rounds_up_to_multiples_of_8():
    assert not needs_hires((768, 320), (750, 300)) and needs_hires((512, 512), (1200, 1200))
    plan = hires_plan((56, 32), (100, 60))
    assert plan["crop"] == [1, 0, 54, 32] and plan["size"] == [104, 64]
    assert fit_plan((104, 64), (100, 60))["scale"] < 1  # the last pixels are trimmed by a downscale, never more


def test_a_small_image_for_a_large_placement_is_redrawn_at_its_size_and_replays(tiny_model, settings):
    from generation.engine import reset_backends
    from generation.provenance import read_png_provenance, reproduce
    from generation.weights import forget_hashes
    from tests.factories import CreativeKitFactory, PlacementFactory

    settings.GENERATION_HIRES_STRENGTH = 0.35
    kit = CreativeKitFactory(placement=PlacementFactory(slug="big-banner", width=100, height=60))
    job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    material = job.images.get()
    pixels = _pixels(material)
    assert pixels.shape == (60, 100, 3) and (material.width, material.height) == (100, 60)
    hires = material.provenance["hires"]
    assert hires["upscaler"] == "lanczos+img2img" and hires["from"] == [56, 32] and hires["size"] == [104, 64]
    assert hires["strength"] == 0.35 and hires["scheduler_config"]["_class_name"]
    assert material.provenance["fit"]["size"] == [100, 60]
    assert len(job.step_timings) == 2 + 1 and job.progress == 100  # 2 steps, then 1 of the pass (3 × 0.35)

    with material.file.open("rb") as fh:
        png = fh.read()
    reset_backends()
    forget_hashes()
    record = read_png_provenance(png)
    assert np.array_equal(np.asarray(reproduce(png).convert("RGB")), pixels)
    # Lanczos alone, from the same generated image, is another picture: the pass redrew it.
    lanczos_only = reproduce({**record, "hires": None, "fit": fit_plan((56, 32), (100, 60), max_upscale=float("inf"))})
    assert lanczos_only.size == (100, 60) and not np.array_equal(np.asarray(lanczos_only.convert("RGB")), pixels)


def test_with_the_pass_turned_off_the_image_keeps_its_own_resolution(tiny_model, settings):
    from tests.factories import CreativeKitFactory, PlacementFactory

    settings.GENERATION_HIRES_STRENGTH = 0
    kit = CreativeKitFactory(placement=PlacementFactory(slug="big-banner", width=100, height=60))
    job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    material = job.images.get()
    assert (material.width, material.height) == (53, 32) and material.provenance["hires"] is None


def test_an_outpainted_material_for_a_large_banner_keeps_its_product_through_the_pass(tiny_model, settings):
    import io

    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from tests.factories import CreativeKitFactory, PlacementFactory

    settings.GENERATION_HIRES_STRENGTH = 0.35
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (200, 30, 30)).save(buffer, format="PNG")
    banner = CreativeKitFactory(placement=PlacementFactory(slug="large-banner", width=160, height=80))
    job = services.job_run(job_id=services.job_create(
        kit=banner, init_image=buffer.getvalue(), outpaint=True, strength=1.0, width=64, height=32, seed=3).pk)
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    material = job.images.get()
    pixels = _pixels(material)
    assert pixels.shape == (80, 160, 3) and material.provenance["hires"]["size"] == [160, 80]
    # The square material sits in the middle (32 px of 64 → 80 px of 160): kept under the mask, not redrawn; only
    # the Lanczos enlargement of the kept pixels rings by a few levels near the seam.
    assert np.abs(pixels[25:55, 65:95].astype(int) - [200, 30, 30]).max() <= 6
    assert np.abs(pixels[:, :10].astype(int) - [200, 30, 30]).mean() > 30  # the painted margins
    reset_backends()
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), pixels)
