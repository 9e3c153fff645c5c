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
    assert pixels.shape == (80, 160, 3)
    assert material.provenance["hires"]["size"] == [128, 64]  # 2.5× is past the pass's cap (2×): Lanczos the rest
    # The square material sits in the middle (32 px of 64 → 80 px of 160): kept under the mask, not redrawn; only
    # the Lanczos enlargement of the kept pixels rings by a few levels near the seam.
    assert np.abs(pixels[25:55, 65:95].astype(int) - [200, 30, 30]).max() <= 6
    assert np.abs(pixels[:, :10].astype(int) - [200, 30, 30]).mean() > 30  # the painted margins
    reset_backends()
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), pixels)


def test_the_pass_is_capped_at_twice_the_familys_native_size():
    from generation.hires import capped_target, hires_size_cap

    sd15 = hires_size_cap("sd15", (512, 512))
    assert sd15 == 1024 * 1024  # 2 × 512 per side
    assert capped_target((3000, 3000), sd15) == (1024, 1024)
    assert capped_target((3000, 1000), sd15) == (1768, 584)  # the placement's aspect, multiples of 8, under the cap
    assert capped_target((1200, 800), sd15) == (1200, 800)  # within the cap: the placement's own size
    assert hires_size_cap("sdxl", (1024, 1024)) == 2048 * 2048
    assert hires_size_cap("other", (56, 32)) == 112 * 64  # no buckets: twice the generated image


def test_a_placement_far_past_the_cap_is_redrawn_at_the_cap_and_lanczos_enlarges_the_rest(tiny_model, settings):
    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from tests.factories import CreativeKitFactory, PlacementFactory

    settings.GENERATION_HIRES_STRENGTH = 0.35
    kit = CreativeKitFactory(placement=PlacementFactory(slug="huge-banner", width=280, height=160))
    job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    material = job.images.get()
    hires, fit = material.provenance["hires"], material.provenance["fit"]
    assert hires["size"] == [112, 64] and hires["capped_at"] == [112, 64]  # 2× the generated 56×32 per side
    assert fit["size"] == [280, 160] and fit["scale"] == 2.5  # the rest by Lanczos, said in provenance
    pixels = _pixels(material)
    assert pixels.shape == (160, 280, 3) and (material.width, material.height) == (280, 160)
    reset_backends()
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), pixels)


def test_an_image_replays_at_the_cap_it_was_made_with_after_the_rule_changes(tiny_model, settings, monkeypatch):
    from generation import hires as hires_module
    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from tests.factories import CreativeKitFactory, PlacementFactory

    settings.GENERATION_HIRES_STRENGTH = 0.35
    kit = CreativeKitFactory(placement=PlacementFactory(slug="huge-banner-2", width=280, height=160))
    job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    material = job.images.get()
    pixels = _pixels(material)
    # A later release allows the pass to run larger: the stored image still replays at the 112×64 it was made at.
    monkeypatch.setattr(hires_module, "HIRES_MAX_SCALE", 4.0)
    reset_backends()
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), pixels)


def test_out_of_memory_in_the_pass_keeps_the_image_unfixed_and_says_why(tiny_model, settings, monkeypatch, caplog):
    import logging

    import diffusers
    import torch

    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from tests.factories import CreativeKitFactory, PlacementFactory

    def no_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.20 GiB")

    monkeypatch.setattr(diffusers.StableDiffusionImg2ImgPipeline, "__call__", no_memory)
    settings.GENERATION_HIRES_STRENGTH = 0.35
    kit = CreativeKitFactory(placement=PlacementFactory(slug="big-banner", width=100, height=60))
    with caplog.at_level(logging.WARNING, logger="generation.services"):
        job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    material = job.images.get()
    # As without the pass: cropped to the placement's aspect at its own resolution, never blurred past 1.25×.
    assert (material.width, material.height) == (53, 32) and job.progress == 100
    hires = material.provenance["hires"]
    assert "out of GPU memory" in hires["skipped"] and hires["target"] == [100, 60]
    assert f"generation job {job.pk} image 0: out of GPU memory" in caplog.text
    reset_backends()  # the replay skips the pass too
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), _pixels(material))


def test_an_error_in_the_pass_other_than_memory_still_fails_the_job(tiny_model, settings, monkeypatch):
    import diffusers

    def broken(self, *args, **kwargs):
        raise ValueError("scheduler exploded")

    monkeypatch.setattr(diffusers.StableDiffusionImg2ImgPipeline, "__call__", broken)
    settings.GENERATION_HIRES_STRENGTH = 0.35
    kit = _kit_for_placement(width=100, height=60)
    job = services.job_run(job_id=services.job_create(kit=kit, width=56, height=32, seed=4).pk)
    assert job.status == GenerationJob.Status.FAILED and "scheduler exploded" in job.error


def _kit_for_placement(*, width: int, height: int):
    from tests.factories import CreativeKitFactory, PlacementFactory

    return CreativeKitFactory(placement=PlacementFactory(slug="big-banner", width=width, height=height))
