"""An operator works through the admin: kits, combinations, rendering, preview, bulk review, audit."""

import pytest
from django.urls import reverse

from creative.models import StyleVariant, VariantAuditEntry
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
    StyleVariantFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit():
    kit = CreativeKitFactory(placement__width=343, placement__height=160)
    CopyVariantFactory(kit=kit, headline="今日已有1.2万人购买", language="zh")
    CopyVariantFactory(kit=kit)
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    return kit


def test_every_admin_list_page_opens(staff_client, kit):
    StyleVariantFactory(placement=kit.placement)
    for model in ["placement", "creativekit", "copyvariant", "imagematerial", "layouttemplate", "stylevariant",
                  "taggroup", "variantauditentry"]:
        response = staff_client.get(reverse(f"admin:creative_{model}_changelist"))
        assert response.status_code == 200, model
    assert staff_client.get(reverse("admin:creative_creativekit_change", args=[kit.pk])).status_code == 200


def test_generate_render_preview_and_publish_from_the_admin(staff_client, kit):
    changelist = reverse("admin:creative_creativekit_changelist")
    staff_client.post(changelist, {"action": "generate_combinations", "_selected_action": [kit.pk]})
    assert StyleVariant.objects.filter(kit=kit).count() == 2
    staff_client.post(changelist, {"action": "render_variants", "_selected_action": [kit.pk]})
    assert not StyleVariant.objects.filter(kit=kit, rendered_image="").exists()

    preview_url = reverse("admin:creative_kit_preview", args=[kit.pk])
    page = staff_client.get(preview_url)
    assert page.status_code == 200
    html = page.content.decode()
    for variant in StyleVariant.objects.filter(kit=kit):
        assert variant.image_url in html and variant.variant_key in html

    ids = list(StyleVariant.objects.filter(kit=kit).values_list("pk", flat=True))
    staff_client.post(preview_url, {"action": "publish", "variant": ids})  # a draft is not published unreviewed
    assert set(StyleVariant.objects.filter(kit=kit).values_list("status", flat=True)) == {"draft"}
    staff_client.post(preview_url, {"action": "approve_publish", "variant": ids})
    assert set(StyleVariant.objects.filter(kit=kit).values_list("status", flat=True)) == {"live"}
    assert set(VariantAuditEntry.objects.values_list("to_value", flat=True)) == {"approved", "live"}
    entry = VariantAuditEntry.objects.filter(to_value="live").first()
    assert entry.changed_by == staff_client.user


def test_bulk_actions_on_the_variant_list_and_tag_filter(staff_client):
    red = StyleVariantFactory(status="approved", tags={"button_color": ["red"]})
    blue = StyleVariantFactory(placement=red.placement, status="approved", tags={"button_color": ["blue"]})
    url = reverse("admin:creative_stylevariant_changelist")
    staff_client.post(url, {"action": "bulk_publish", "_selected_action": [red.pk, blue.pk]})
    staff_client.post(url, {"action": "bulk_pin", "_selected_action": [blue.pk]})
    staff_client.post(url, {"action": "bulk_block", "_selected_action": [red.pk]})
    red.refresh_from_db()
    blue.refresh_from_db()
    assert (red.status, red.blocked, blue.status, blue.pinned) == ("live", True, "live", True)
    filtered = staff_client.get(url, {"tag": "button_color=blue"}).content.decode()
    assert blue.variant_key in filtered and red.variant_key not in filtered
    history = staff_client.get(reverse("admin:creative_stylevariant_change", args=[red.pk])).content.decode()
    assert "approved" in history and "block" in history


def test_copy_import_page_refuses_a_bad_file_and_accepts_a_good_one(staff_client, kit, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:creative_copy_import")
    bad = SimpleUploadedFile("c.csv", b"headline,cta\n,Go\n", content_type="text/csv")
    response = staff_client.post(url, {"kit": kit.pk, "file": bad})
    assert response.status_code == 200
    assert "line 2, column headline: required" in response.content.decode()
    assert kit.copies.count() == 2

    good = SimpleUploadedFile("c.csv", "headline,subline,cta,language\n新人红包,首次存入,领取,zh\n".encode(),
                              content_type="text/csv")
    response = staff_client.post(url, {"kit": kit.pk, "file": good})
    assert response.status_code == 302
    assert kit.copies.filter(headline="新人红包").exists()


def test_copy_export_action_returns_csv(staff_client, kit):
    response = staff_client.post(reverse("admin:creative_copyvariant_changelist"),
                                 {"action": "export_csv", "_selected_action": list(kit.copies.values_list("pk", flat=True))})
    assert response["Content-Type"].startswith("text/csv")
    assert "今日已有1.2万人购买" in response.content.decode()


def test_admin_requires_login(client):
    response = client.get(reverse("admin:creative_stylevariant_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_autotag_action_tags_new_copy_but_keeps_manual_groups(staff_client, kit):
    copy = kit.copies.get(language="zh")
    copy.tags = {"appeal": ["authority"]}
    copy.tag_sources = {"appeal": {"source": "manual", "confidence": 1.0}}
    copy.save()
    staff_client.post(reverse("admin:creative_creativekit_changelist"),
                      {"action": "autotag_materials", "_selected_action": [kit.pk]})
    copy.refresh_from_db()
    assert copy.tags["appeal"] == ["authority"]  # an operator's choice survives
    assert copy.tags["language"] == ["zh"]  # the rest was tagged automatically
    assert copy.tag_sources["language"]["source"] == "auto"
