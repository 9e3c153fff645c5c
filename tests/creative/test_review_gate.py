"""Review is a gate: nothing an operator has not accepted or approved reaches the kit or the users.

A generation job's images wait for accept/reject; a draft is approved before it can go live; a change to a
live variant's copy makes a new version that serves only once approved; retiring asks first and can be
undone to paused; the audit trail can be read but not changed or deleted, even when its variant goes.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from access.roles import ADMINS, OPERATORS
from creative.models import CreativeKit, StyleVariant, VariantAuditEntry
from creative.services.combination import kit_combine
from creative.services.rendering import variant_render
from creative.services.variants import variant_publish
from generation import services as generation
from ranking.serving import invalidate_catalogue, rank
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
    PlacementFactory,
)
from tests.hardening.factories import role_user

pytestmark = pytest.mark.django_db


_numbers = itertools.count()


def login(role: str) -> Client:
    client = Client()
    client.force_login(role_user(role, username=f"gate-{role}-{next(_numbers)}"))
    return client


@pytest.fixture
def operator() -> Client:
    return login(OPERATORS)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_only_the_images_accepted_on_the_job_page_join_the_kit(operator):
    kit = CreativeKitFactory(placement=PlacementFactory(width=300, height=300))
    CopyVariantFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    job = generation.job_run(job_id=generation.job_create(kit=kit, backend="procedural", mixes=[{"flat": 1}],
                                                          images_per_mix=3, width=64, height=64, steps=2).pk)
    assert kit_combine(kit=kit).created == 0  # generated, not yet reviewed: not in the kit's combinations
    first, second, third = job.images.order_by("job_index")
    url = reverse("admin:generation_generationjob_change", args=[job.pk])
    assert 'name="images-0-review"' in operator.get(url).content.decode()
    form = {"images-TOTAL_FORMS": 3, "images-INITIAL_FORMS": 3, "images-MIN_NUM_FORMS": 0,
            "images-MAX_NUM_FORMS": 1000}
    for i, (image, review) in enumerate(((first, "accepted"), (second, "rejected"), (third, "pending"))):
        form.update({f"images-{i}-id": image.pk, f"images-{i}-generation_job": job.pk,
                     f"images-{i}-review": review, f"images-{i}-tags": "{}"})
    response = operator.post(url, form, follow=True)
    assert "1 image(s) accepted into the kit, 1 rejected (kept here)." in said(response)
    assert dict(job.images.values_list("pk", "review")) == {first.pk: "accepted", second.pk: "rejected",
                                                             third.pk: "pending"}
    kit_combine(kit=kit)
    assert {v.image_id for v in kit.variants.all()} == {first.pk}


def test_a_draft_is_approved_before_it_goes_live_and_approve_and_publish_records_both(operator):
    variant = _rendered_kit().variants.get()
    url = reverse("admin:creative_stylevariant_changelist")
    response = operator.post(url, {"action": "bulk_publish", "_selected_action": [variant.pk]}, follow=True)
    variant.refresh_from_db()
    assert variant.status == "draft"
    assert any("Approve it first" in m for m in said(response))
    operator.post(url, {"action": "bulk_approve_publish", "_selected_action": [variant.pk]})
    variant.refresh_from_db()
    assert variant.status == "live"
    assert list(variant.audit_entries.order_by("id").values_list("to_value", flat=True)) == ["approved", "live"]


def test_editing_a_live_variants_copy_makes_a_new_version_that_serves_only_once_approved(operator):
    kit = _rendered_kit()
    variant = kit.variants.get()
    variant_publish(variant=variant)
    old_image, copy = variant.rendered_image, variant.copy
    served = _served_headline(variant)
    assert served == copy.headline

    form = {"headline": "Brand new claim", "subline": copy.subline, "cta": copy.cta, "language": "en",
            "kit": kit.pk, "tags": "{}", "tag_sources": "{}"}
    response = operator.post(reverse("admin:creative_copyvariant_change", args=[copy.pk]), form, follow=True)
    assert any("rendered again: 1 revision pending" in m for m in said(response)), said(response)
    variant.refresh_from_db()
    assert variant.rendered_image == old_image and variant.pending_revision["render_spec"]["headline"] == \
        "Brand new claim"
    assert _served_headline(variant) == served  # the approved version keeps serving
    page = operator.get(reverse("admin:creative_stylevariant_change", args=[variant.pk])).content.decode()
    assert "keeps serving until this one is approved" in page

    operator.post(reverse("admin:creative_stylevariant_changelist"),
                  {"action": "bulk_approve_revision", "_selected_action": [variant.pk]})
    variant.refresh_from_db()
    assert variant.pending_revision == {} and variant.rendered_image != old_image
    assert _served_headline(variant) == "Brand new claim"
    assert [(e.action, e.to_value) for e in variant.audit_entries.order_by("id")][-2:] == [
        ("render", "revision pending"), ("revision", "approved")]


def test_retiring_asks_first_and_can_be_undone_to_paused(operator):
    variant = _rendered_kit().variants.get()
    variant_publish(variant=variant)
    url = reverse("admin:creative_stylevariant_changelist")
    asked = operator.post(url, {"action": "bulk_retire", "index": 0, "_selected_action": [variant.pk]})
    assert asked.status_code == 200 and "are you sure?" in asked.content.decode()
    variant.refresh_from_db()
    assert variant.status == "live"
    operator.post(url, {"action": "bulk_retire", "index": 0, "_selected_action": [variant.pk], "confirm": "yes"})
    variant.refresh_from_db()
    assert variant.status == "retired"
    operator.post(url, {"action": "bulk_restore", "index": 0, "_selected_action": [variant.pk]})
    variant.refresh_from_db()
    assert variant.status == "paused"


def test_nobody_changes_or_deletes_the_audit_trail_and_deleting_a_kit_keeps_it():
    kit = _rendered_kit()
    variant = kit.variants.get()
    variant_publish(variant=variant)
    variant.status = "draft"  # as if it never served: a kit like this may be deleted
    variant.published_at = None
    variant.save()
    entry = VariantAuditEntry.objects.first()
    for role in (OPERATORS, ADMINS):
        client = login(role)
        assert client.post(reverse("admin:creative_variantauditentry_delete", args=[entry.pk]),
                           {"post": "yes"}).status_code == 403
        client.post(reverse("admin:creative_variantauditentry_changelist"),
                    {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
        assert client.post(reverse("admin:creative_variantauditentry_change", args=[entry.pk]),
                           {"note": "edited"}).status_code == 403
    entries = VariantAuditEntry.objects.count()
    assert entries == 2

    deleted = login(OPERATORS).post(reverse("admin:creative_creativekit_delete", args=[kit.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert not CreativeKit.objects.filter(pk=kit.pk).exists()
    assert VariantAuditEntry.objects.count() == entries
    assert set(VariantAuditEntry.objects.values_list("variant_label", flat=True)) == {str(variant)}


def _rendered_kit():
    kit = CreativeKitFactory()
    CopyVariantFactory(kit=kit, headline="Old claim")
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    kit_combine(kit=kit)
    for variant in kit.variants.all():
        variant_render(variant=variant)
    return kit


def _served_headline(variant: StyleVariant) -> str:
    invalidate_catalogue(variant.placement_id)
    answer = rank(placement=variant.placement.slug, user_id="reader", features={})
    return next(item.render["headline"] for item in answer.items if item.variant_id == variant.pk)



def test_a_variant_whose_render_was_refused_cannot_go_live(db):
    from django.core.exceptions import ValidationError

    from tests.factories import StyleVariantFactory

    variant = StyleVariantFactory(status="approved", render_spec={
        "refused": "The CTA text reaches 3.1:1 on #F5C518; no colour within the tolerance reaches 4.5:1."})

    with pytest.raises(ValidationError) as refused:
        variant_publish(variant=variant)

    assert "3.1:1" in refused.value.message_dict["status"][0]
    variant.refresh_from_db()
    assert variant.status == "approved" and variant.published_at is None
