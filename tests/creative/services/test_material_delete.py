"""An operator deletes a copy or an image: variants that served traffic are retired and kept, never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.db.models import RestrictedError
from django.urls import reverse

from creative.models import CopyVariant, CreativeKit, ImageMaterial, StyleVariant, VariantAuditEntry
from creative.services.combination import kit_combine
from creative.services.materials import material_delete
from creative.services.variants import variant_publish
from generation import services as generation
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit():
    """Two copies × one image × two layouts: four draft variants, two per copy."""
    kit = CreativeKitFactory()
    CopyVariantFactory(kit=kit, headline="Old claim")
    CopyVariantFactory(kit=kit, headline="New claim")
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    LayoutTemplateFactory(kit=kit, tags={"layout": ["grid"], "button_color": ["blue"]})
    kit_combine(kit=kit)
    return kit


def test_deleting_a_copy_retires_its_live_variant_and_deletes_its_drafts(kit, django_user_model):
    operator = django_user_model.objects.create_user("olive")
    old = kit.copies.get(headline="Old claim")
    served, draft = old.variants.order_by("id")
    variant_publish(variant=served)
    served_as = served.tags

    outcome = material_delete(material=old, by=operator)

    assert not CopyVariant.objects.filter(pk=old.pk).exists()
    assert not StyleVariant.objects.filter(pk=draft.pk).exists()  # never served: gone with its copy
    served.refresh_from_db()
    assert served.status == "retired" and served.copy is None  # kept, detached, out of serving
    assert served.tags == served_as and served_as  # what it served as stays readable
    entry = VariantAuditEntry.objects.filter(variant=served, to_value="retired").get()
    assert entry.changed_by == operator and "Old claim" in entry.note
    assert outcome.deleted_variants == 1 and outcome.retired_variants == [served.variant_key]
    assert kit.variants.filter(copy__headline="New claim").count() == 2  # the other copy's variants untouched


def test_a_material_is_never_deleted_with_its_variants_by_any_other_path(kit):
    with pytest.raises(RestrictedError):
        kit.images.get().delete()
    assert kit.variants.count() == 4


def test_the_admin_delete_of_an_image_explains_what_it_keeps(kit, staff_client):
    image = kit.images.get()
    live = kit.variants.order_by("id").first()
    variant_publish(variant=live)
    url = reverse("admin:creative_imagematerial_delete", args=[image.pk])

    page = staff_client.get(url).content.decode()
    assert "retired and kept" in page and "never served: deleted" in page

    response = staff_client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not ImageMaterial.objects.filter(pk=image.pk).exists()
    assert list(StyleVariant.objects.values_list("status", flat=True)) == ["retired"]
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    (message,) = [m for m in messages if "Deleted" in m]
    assert "kept 1 variant(s) that served traffic" in message and live.variant_key in message


def test_deleting_a_kit_with_a_served_variant_is_refused_and_deletes_nothing(kit, staff_client):
    variant_publish(variant=kit.variants.first())
    url = reverse("admin:creative_creativekit_delete", args=[kit.pk])

    response = staff_client.post(url, {"post": "yes"})

    assert response.status_code == 200 and "it has served traffic" in response.content.decode()
    assert CreativeKit.objects.filter(pk=kit.pk).exists() and kit.variants.count() == 4


def test_a_kit_whose_variants_never_served_can_still_be_deleted(kit, staff_client):
    response = staff_client.post(reverse("admin:creative_creativekit_delete", args=[kit.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not CreativeKit.objects.filter(pk=kit.pk).exists() and not StyleVariant.objects.exists()


def test_rejecting_an_accepted_image_retires_its_served_variants_and_keeps_the_image(
        kit, django_capture_on_commit_callbacks):
    job = generation.job_create(kit=kit, backend="procedural", mixes=[{"flat": 1.0}], images_per_mix=2,
                                width=80, height=32, steps=2)
    generation.job_run(job_id=job.pk)
    first, second = job.images.order_by("job_index")
    generation.job_accept(job=job)
    kit_combine(kit=kit)
    served = first.variants.order_by("id").first()
    variant_publish(variant=served)
    drafts = first.variants.exclude(pk=served.pk).count()
    assert drafts > 0

    with django_capture_on_commit_callbacks(execute=True):
        assert generation.job_accept(job=job, keep=[second.pk]) == 1  # the operator changes their mind

    served.refresh_from_db()
    first.refresh_from_db()
    assert served.status == "retired" and served.image_id == first.pk
    assert list(first.variants.all()) == [served]  # its drafts, which never served, are gone
    assert first.review == "rejected" and Path(first.file.path).exists()  # kept for the record
    assert kit_combine(kit=kit).created == 0  # and never combined again
