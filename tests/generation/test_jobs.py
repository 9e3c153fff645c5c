"""An operator starts generation jobs from a kit and gets tagged images with full provenance."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from creative.models import ImageMaterial
from generation import services
from generation.engine.procedural import ProceduralBackend
from generation.models import GenerationJob

S = GenerationJob.Status


def _pixels(material: ImageMaterial) -> np.ndarray:
    with material.file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def test_a_diffusers_job_runs_end_to_end_through_celery(sparkle, square_kit, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.start_job(kit=square_kit, mixes=[{}, {"sparkle": 1.0}], images_per_mix=2, seed=11,
                                 width=32, height=32)
    job.refresh_from_db()
    assert job.backend == "diffusers" and job.base_model.name == "tiny-sd"
    assert job.status == S.SUCCEEDED, job.error
    assert job.progress == 100.0
    assert len(job.step_timings) == 4  # two batches (one per mix) of two steps
    images = list(job.images.order_by("job_index"))
    assert [i.job_index for i in images] == [0, 1, 2, 3]
    assert all(i.source == "generated" and i.kit == square_kit and (i.width, i.height) == (32, 32) for i in images)
    made = images[3].provenance
    assert made["backend"] == "diffusers" and made["base_model"]["name"] == "tiny-sd"
    assert made["mix"] == {"sparkle": 1.0} and made["loras"]["sparkle"]["path"] == "loras/sparkle.safetensors"
    assert made["loras"]["sparkle"]["sha256"] == sparkle.sha256 and made["base_model"]["sha256"] == sparkle.base_model.sha256
    assert (made["batch_size"], made["batch_index"], made["batch_seeds"]) == (2, 1, [13, 14])
    assert made["scheduler_config"]["_class_name"] == "DDIMScheduler" and made["dtype"] == "float32"
    assert made["device_kind"] == "cpu" and set(made["versions"]) >= {"diffusers", "torch", "transformers", "peft"}
    assert made["seed"] == 14 and made["steps"] == 2 and made["width"] == 32 and "sparkle style" in made["prompt"]
    # Tagged on arrival: pixels plus what the LoRA implies.
    assert images[3].tags["visual_style"] == ["3d"]
    assert images[3].tag_sources["brightness"]["source"] == "auto"
    assert "visual_style" not in images[0].tags  # the base model alone implies nothing


def test_an_image_is_reproduced_bit_for_bit_from_the_provenance_in_its_png(sparkle, square_kit):
    from generation.engine import reset_backends
    from generation.provenance import read_png_provenance, reproduce
    from generation.weights import forget_hashes

    job = services.job_run(job_id=services.job_create(
        kit=square_kit, mixes=[{"sparkle": 0.7}], images_per_mix=2, seed=5, width=32, height=32,
        scheduler="dpmpp_2m_karras").pk)
    second = job.images.get(job_index=1)
    with second.file.open("rb") as fh:
        png = fh.read()
    # A cold worker: no pipeline, no adapter, no remembered hash, and nothing read from the database.
    reset_backends()
    forget_hashes()
    record = read_png_provenance(png)
    assert record["scheduler_config"]["use_karras_sigmas"] is True and record["batch_index"] == 1
    assert np.array_equal(np.asarray(reproduce(png).convert("RGB")), _pixels(second))


def test_a_replay_refuses_weights_that_changed_since_the_image_was_made(sparkle, square_kit, model_root):
    from generation.engine import GenerationError, reset_backends
    from generation.provenance import reproduce

    job = services.job_run(job_id=services.job_create(kit=square_kit, mixes=[{"sparkle": 1.0}], seed=5,
                                                      width=32, height=32).pk)
    reset_backends()
    with (model_root / "loras" / "sparkle.safetensors").open("ab") as fh:
        fh.write(b" ")  # same name, other bytes
    with pytest.raises(GenerationError, match="changed since registration"):
        reproduce(job.images.get())


def test_a_retried_task_does_not_duplicate_images(square_kit):
    job = services.job_create(kit=square_kit, backend="procedural", mixes=[{"flat": 1}, {"gold": 1}],
                              images_per_mix=2, width=64, height=64, steps=3)
    services.job_run(job_id=job.pk)
    # The broker redelivers the message (acks_late after a lost worker): nothing new is made.
    services.job_run(job_id=job.pk)
    assert job.images.count() == 4
    # A worker died half-way: the job is still "running" with two images; the retry makes only the rest.
    job.images.filter(job_index__gte=2).delete()
    GenerationJob.objects.filter(pk=job.pk).update(status=S.RUNNING)
    kept = set(job.images.values_list("id", flat=True))
    services.job_run(job_id=job.pk)
    assert job.images.count() == 4 and kept <= set(job.images.values_list("id", flat=True))
    assert sorted(job.images.values_list("job_index", flat=True)) == [0, 1, 2, 3]


def test_a_broken_lora_fails_its_job_clearly_and_the_next_job_succeeds(sparkle, model_root, square_kit):
    (model_root / "loras" / "sparkle.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    bad = services.job_run(job_id=services.job_create(kit=square_kit, mixes=[{"sparkle": 1.0}], width=32,
                                                      height=32).pk)
    assert bad.status == S.FAILED
    assert "sparkle.safetensors changed since registration" in bad.error  # the file's hash no longer matches
    assert bad.images.count() == 0
    # Even bytes that hash as registered (here: recorded as such) fail clearly when diffusers cannot load them.
    from generation.models import LoraStyle
    from generation.weights import weights_sha256

    LoraStyle.objects.filter(pk=sparkle.pk).update(sha256=weights_sha256(model_root / "loras" / "sparkle.safetensors"))
    bad = services.job_run(job_id=services.job_create(kit=square_kit, mixes=[{"sparkle": 1.0}], width=32,
                                                      height=32).pk)
    assert bad.status == S.FAILED and "LoRA style 'sparkle' could not be loaded" in bad.error
    good = services.job_run(job_id=services.job_create(kit=square_kit, width=32, height=32).pk)
    assert good.status == S.SUCCEEDED and good.images.count() == 1


def test_cancel_is_honoured_between_steps(square_kit, monkeypatch):
    job = services.job_create(kit=square_kit, backend="procedural", mixes=[{"flat": 1}], images_per_mix=3,
                              width=64, height=64, steps=4)
    real_render = ProceduralBackend.render

    def render_then_operator_cancels(self, request, *, on_step):
        image = real_render(self, request, on_step=on_step)
        if request.index == 0:  # the operator presses cancel while image 1 is being made
            services.job_cancel(job=job)
        return image

    monkeypatch.setattr(ProceduralBackend, "render", render_then_operator_cancels)
    done = services.job_run(job_id=job.pk)
    assert done.status == S.CANCELLED
    assert done.images.count() == 1  # the finished image stays; nothing after the cancel
    assert 0 < done.progress < 100


def test_a_cancelled_queued_job_never_runs(square_kit):
    job = services.job_create(kit=square_kit, backend="procedural", width=64, height=64)
    services.job_cancel(job=job)
    assert services.job_run(job_id=job.pk).status == S.CANCELLED
    assert job.images.count() == 0


def test_accepting_keeps_the_chosen_images_in_the_kit(square_kit):
    job = services.job_run(job_id=services.job_create(kit=square_kit, backend="procedural", mixes=[{"clay": 1}],
                                                      images_per_mix=3, width=64, height=64, steps=2).pk)
    assert set(job.images.values_list("review", flat=True)) == {"pending"}  # nothing joins the kit unreviewed
    chosen = list(job.images.order_by("job_index").values_list("id", flat=True))[:2]
    assert services.job_accept(job=job, keep=chosen) == 2
    assert set(square_kit.images.filter(review="accepted").values_list("id", flat=True)) == set(chosen)
    assert square_kit.images.filter(review="rejected").count() == 1  # kept for the record, never combined
    job.refresh_from_db()
    assert job.accepted_at is not None


def test_without_a_base_model_the_procedural_backend_is_used_and_labelled(square_kit):
    job = services.job_create(kit=square_kit, mixes=[{"neon": 1.0}])
    assert job.backend == "procedural" and job.base_model is None
    assert (job.width, job.height) == (512, 512)  # the placement's aspect
    done = services.job_run(job_id=job.pk)
    made = done.images.get().provenance
    assert made["backend"] == "procedural" and "not a diffusion model" in made["note"]


def test_image_to_image_restyles_an_init_picture(square_kit):
    from tests.factories import png_bytes

    job = services.job_create(kit=square_kit, backend="procedural", mixes=[{"flat": 1}], width=64, height=64,
                              init_image=png_bytes(color=(0, 200, 0), size=(64, 64)), strength=0.3)
    done = services.job_run(job_id=job.pk)
    image = done.images.get()
    assert image.provenance["img2img"] is True and image.provenance["strength"] == 0.3
    assert _pixels(image)[..., 1].mean() > 120  # still mostly the green picture


def test_the_init_image_gets_the_same_upload_checks_as_materials(square_kit):
    from tests.factories import png_bytes

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    huge = Image.new("1", (8000, 6000))  # 48 million pixels, a few kilobytes as PNG
    buffer = io.BytesIO()
    huge.save(buffer, format="PNG")
    for data, message in [(svg, "SVG and HTML files are not accepted"), (buffer.getvalue(), "million pixels"),
                          (b"GIF89a" + b"\0" * 32, "not a readable PNG, JPEG or WebP")]:
        with pytest.raises(ValidationError) as excinfo:
            services.job_create(kit=square_kit, backend="procedural", mixes=[{"flat": 1}], width=64, height=64,
                                init_image=data)
        assert any(message in m for m in excinfo.value.message_dict["init_image"])
    assert not GenerationJob.objects.exists()

    photo = Image.open(io.BytesIO(png_bytes(size=(64, 64))))
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Co"
    with_exif = io.BytesIO()
    photo.convert("RGB").save(with_exif, format="JPEG", exif=exif)
    job = services.job_create(kit=square_kit, backend="procedural", mixes=[{"flat": 1}], width=64, height=64,
                              init_image=with_exif.getvalue() + b"<?php appended payload ?>")
    stored = job.init_image.read()
    assert job.init_image.name.endswith(".jpg")
    assert b"Secret Camera Co" not in stored and b"appended payload" not in stored  # re-encoded


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"width": 100, "height": 100}, "width"),  # not a multiple of 8
        ({"width": 512, "height": 128}, "width"),  # wrong aspect for a square placement
        ({"backend": "procedural", "mixes": [{"watercolour": 1}]}, "mixes"),
        ({"backend": "diffusers"}, "base_model"),
        ({"backend": "procedural", "images_per_mix": 0}, "images_per_mix"),
    ],
)
def test_bad_job_settings_are_refused_with_the_field(square_kit, options, field):
    with pytest.raises(ValidationError) as err:
        services.job_create(kit=square_kit, **options)
    assert field in err.value.message_dict


def test_a_lora_that_is_not_registered_is_refused(tiny_model, square_kit):
    with pytest.raises(ValidationError, match="not registered"):
        services.job_create(kit=square_kit, mixes=[{"nope": 1.0}], width=32, height=32)


def test_size_for_placement_keeps_the_aspect_in_multiples_of_8():
    from types import SimpleNamespace

    assert services.size_for_placement(SimpleNamespace(width=750, height=300)) == (512, 208)
    assert services.size_for_placement(SimpleNamespace(width=343, height=160)) == (512, 240)
    assert services.size_for_placement(SimpleNamespace(width=300, height=600), long_side=256) == (128, 256)


def test_progress_of_a_batched_job_counts_every_image_step(tiny_model, square_kit, monkeypatch):
    seen = []
    real_step = services._Progress.step

    def step_and_read(self, images=1):  # watch the value the operator's page would read after each step
        real_step(self, images)
        seen.append(GenerationJob.objects.get(pk=self.job_id).progress)

    monkeypatch.setattr(services._Progress, "step", step_and_read)
    job = services.job_run(job_id=services.job_create(kit=square_kit, images_per_mix=2, steps=2, width=32,
                                                      height=32).pk)
    assert job.status == S.SUCCEEDED
    assert seen == [50.0, 99.9]  # one batch of two images, two steps each: 2 of 4 image-steps, then all


def test_a_job_on_a_known_family_generates_at_its_native_size_and_fits_the_placement(db):
    from generation.models import BaseModel
    from tests.factories import CreativeKitFactory, PlacementFactory

    sd15 = BaseModel.objects.create(name="dreamshaper", family="sd15", path="dreamshaper.safetensors")
    banner = CreativeKitFactory(placement=PlacementFactory(slug="banner", width=750, height=300))
    job = services.job_create(kit=banner, base_model=sd15)
    assert (job.width, job.height) == (768, 320)
    fit = services._placement_fit(job, Image.new("RGB", (768, 320)))
    assert fit["size"] == [750, 300] and fit["scale"] < 1


def test_lora_trigger_words_carry_their_weight_in_the_prompt(sparkle, square_kit):
    job = services.job_create(kit=square_kit, mixes=[{"sparkle": 0.6}, {"sparkle": 1.0}], width=32, height=32)
    prompts = [r.prompt for r in services.job_requests(job, loras=services._lora_specs(job))]
    assert "(sparkle style:0.6)" in prompts[0] and "(" not in prompts[1] and "sparkle style" in prompts[1]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_outpaint_job_adapts_a_square_material_to_a_banner_and_replays(tiny_model):
    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from tests.factories import CreativeKitFactory, PlacementFactory

    banner = CreativeKitFactory(placement=PlacementFactory(slug="wide-banner", width=640, height=320))
    square = Image.new("RGB", (48, 48), (200, 30, 30))
    job = services.job_run(job_id=services.job_create(
        kit=banner, init_image=_png(square), outpaint=True, strength=1.0, width=64, height=32, seed=3).pk)
    assert job.status == S.SUCCEEDED, job.error
    material = job.images.get()
    pixels = _pixels(material)
    assert pixels.shape == (32, 64, 3)
    assert (pixels[8:24, 24:40] == [200, 30, 30]).all()  # the material, kept (fitted inside, 8 px of seam repainted)
    assert np.abs(pixels[:, :6].astype(int) - [200, 30, 30]).mean() > 30  # the new margins, painted
    assert material.provenance["outpaint"] is True
    reset_backends()
    assert np.array_equal(np.asarray(reproduce(material).convert("RGB")), pixels)


def test_an_inpaint_job_keeps_the_masked_product(tiny_model, square_kit):
    product = Image.new("RGB", (32, 32), (20, 200, 20))
    mask = Image.new("L", (32, 32), 255)
    mask.paste(0, (8, 8, 24, 24))  # keep the middle
    job = services.job_run(job_id=services.job_create(
        kit=square_kit, init_image=_png(product), mask_image=_png(mask), strength=1.0, width=32, height=32).pk)
    assert job.status == S.SUCCEEDED, job.error
    pixels = _pixels(job.images.get())
    assert (pixels[8:24, 8:24] == [20, 200, 20]).all()
    assert job.images.get().provenance["mask_image_sha256"]


def test_inpainting_and_outpainting_say_what_they_need(tiny_model, square_kit):
    with pytest.raises(ValidationError, match="needs an init image"):
        services.job_create(kit=square_kit, outpaint=True, width=32, height=32)
    with pytest.raises(ValidationError, match="diffusers backend"):
        services.job_create(kit=square_kit, backend="procedural", init_image=_png(Image.new("RGB", (8, 8))),
                            outpaint=True, width=32, height=32)


def test_cancel_stops_a_diffusers_batch_between_its_denoising_steps(tiny_model, square_kit, monkeypatch):
    job = services.job_create(kit=square_kit, images_per_mix=2, width=32, height=32, steps=4)
    real_step = services._Progress.step
    calls = []

    def operator_cancels_during_the_second_step(self, images=1):
        calls.append(images)
        if len(calls) == 2:  # the operator presses cancel while the batch denoises
            services.job_cancel(job=job)
        return real_step(self, images)

    monkeypatch.setattr(services._Progress, "step", operator_cancels_during_the_second_step)
    done = services.job_run(job_id=job.pk)
    assert done.status == S.CANCELLED
    assert calls == [2, 2]  # diffusers stopped at the step after the cancel, not at the end of the batch
    assert done.images.count() == 0 and len(done.step_timings) == 1
    assert done.progress == 25.0  # one step of both images, out of 2 × 4


def test_progress_writes_are_throttled_and_the_finished_job_keeps_every_step_timing(tiny_model, square_kit,
                                                                                     settings, monkeypatch):
    from django.db.models.query import QuerySet

    settings.GENERATION_PROGRESS_S = 3600  # longer than the job: only the first and the last step are written
    writes = []
    real_update = QuerySet.update

    def counting_update(self, **fields):
        if "progress" in fields and self.model is GenerationJob:
            writes.append(fields["progress"])
        return real_update(self, **fields)

    monkeypatch.setattr(QuerySet, "update", counting_update)
    job = services.job_run(job_id=services.job_create(kit=square_kit, images_per_mix=2, steps=4, width=32,
                                                      height=32).pk)
    assert job.status == S.SUCCEEDED
    assert writes == [25.0, 99.9, 100.0]  # first step, last step, finished: not one write per step
    assert len(job.step_timings) == 4


def test_an_operator_outpaints_and_inpaints_from_the_job_form(staff_client, tiny_model,
                                                                django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from tests.factories import CreativeKitFactory, PlacementFactory

    banner = CreativeKitFactory(placement=PlacementFactory(slug="form-banner", width=640, height=320))
    add = reverse("admin:generation_generationjob_add")
    form = {"kit": banner.pk, "backend": "diffusers", "base_model": tiny_model.pk, "prompt_template": "{offer}",
            "mixes": "[{}]", "images_per_mix": 1, "width": 64, "height": 32, "seed": 3, "steps": 2, "guidance": 1,
            "scheduler": "default", "strength": 1.0, "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0}

    def upload(image: Image.Image, name: str) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, _png(image), content_type="image/png")

    square = Image.new("RGB", (48, 48), (200, 30, 30))
    no_init = staff_client.post(add, {**form, "outpaint": "on"})
    assert no_init.status_code == 200 and "needs an init image" in no_init.content.decode()
    both = staff_client.post(add, {**form, "outpaint": "on", "init_upload": upload(square, "square.png"),
                                   "mask_upload": upload(Image.new("L", (48, 48), 255), "mask.png")})
    assert both.status_code == 200 and "not both" in both.content.decode()
    assert not GenerationJob.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(add, {**form, "outpaint": "on", "init_upload": upload(square, "square.png")})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = GenerationJob.objects.get()
    assert job.outpaint and job.status == S.SUCCEEDED, job.error
    assert (_pixels(job.images.get())[8:24, 24:40] == [200, 30, 30]).all()  # the material, kept
