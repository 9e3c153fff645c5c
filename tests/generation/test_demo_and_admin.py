"""The demo step makes tagged images for each kit; operators do the same from the admin."""

from __future__ import annotations

import io

from django.urls import reverse

from creative.demo_context import DemoContext
from generation import demo
from generation.models import BaseModel, GenerationJob
from tests.factories import CopyVariantFactory, CreativeKitFactory, PlacementFactory


def test_the_demo_generates_styled_images_sized_to_the_placement_and_tags_them(db, encoder):
    kit = CreativeKitFactory(placement=PlacementFactory(slug="wealth-home-banner", width=750, height=300))
    CopyVariantFactory(kit=kit, headline="12,000 people joined today", subline="", cta="Join", tags={})
    out = io.StringIO()
    demo.run(DemoContext(stdout=out, kits=[kit]))
    images = list(kit.images.all())
    assert len(images) >= 6
    # At least the 750×300 banner's own size, in the placement's aspect, so composition never enlarges it.
    assert {(i.width, i.height) for i in images} == {(752, 304)}
    assert len({i.provenance["mix"].popitem()[0] for i in images}) >= 3
    assert len({tuple(i.tags["visual_style"]) for i in images}) >= 3
    assert all(i.provenance["backend"] == "procedural" and i.tags["color_tone"] for i in images)
    assert kit.copies.get().tags["appeal"] == ["social_proof"]
    assert "procedural backend" in out.getvalue()
    # Re-running keeps the kit's images.
    demo.run(DemoContext(stdout=out, kits=[kit]))
    assert kit.images.count() == len(images)


def test_an_operator_registers_a_model_in_the_admin_and_a_pickle_is_refused(staff_client, model_root):
    (model_root / "old.ckpt").write_bytes(b"pickle")
    url = reverse("admin:generation_basemodel_add")
    form = {"name": "old", "family": "sd15", "path": "old.ckpt", "default_scheduler": "default", "default_steps": 25,
            "default_guidance": 7, "default_width": 512, "default_height": 512, "dtype": "auto", "is_active": "on"}
    refused = staff_client.post(url, form)
    assert refused.status_code == 200 and "can run arbitrary code" in refused.content.decode()
    ok = staff_client.post(url, {**form, "name": "tiny", "family": "other", "path": "tiny-sd"})
    assert ok.status_code == 302
    assert BaseModel.objects.get(name="tiny").cross_attention_dim == 32


def test_an_operator_starts_a_job_from_a_kit_and_sees_its_progress(staff_client, django_capture_on_commit_callbacks):
    kit = CreativeKitFactory(placement=PlacementFactory(slug="sq", width=300, height=300))
    form = {"kit": kit.pk, "backend": "procedural", "prompt_template": "{offer}, {trigger}",
            "mixes": '[{"flat": 1.0}, {"clay": 1.0}]', "images_per_mix": 1, "width": 64, "height": 64,
            "seed": 3, "steps": 2, "guidance": 7, "scheduler": "default", "strength": 0.5,
            "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:generation_generationjob_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = GenerationJob.objects.get()
    assert job.status == "succeeded" and job.images.count() == 2
    listing = staff_client.get(reverse("admin:generation_generationjob_changelist")).content.decode()
    assert "<progress" in listing and "2/2" in listing
    page = staff_client.get(reverse("admin:generation_generationjob_change", args=[job.pk])).content.decode()
    assert "gen-" in page  # the images are previewed on the job
    accepted = staff_client.post(reverse("admin:generation_generationjob_changelist"),
                                 {"action": "accept_images", "_selected_action": [job.pk]})
    assert accepted.status_code == 302
    job.refresh_from_db()
    assert job.accepted_at is not None
