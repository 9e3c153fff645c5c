"""An operator reviews, releases and intervenes; every change is audited."""

import pytest
from django.core.exceptions import ValidationError

from creative.models import VariantAuditEntry
from creative.services.variants import (
    variant_publish,
    variant_set_flag,
    variant_set_tag_overrides,
    variant_transition,
    variants_bulk,
)
from tests.factories import (
    CopyVariantFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
    StyleVariantFactory,
)

pytestmark = pytest.mark.django_db


def test_lifecycle_draft_approved_live_paused_retired_with_audit(django_user_model):
    operator = django_user_model.objects.create_user("olive")
    variant = StyleVariantFactory(status="draft")
    for status in ["approved", "live", "paused", "live", "retired"]:
        variant_transition(variant=variant, to_status=status, by=operator)
    entries = list(VariantAuditEntry.objects.filter(variant=variant).order_by("id"))
    assert [(e.from_value, e.to_value) for e in entries] == [
        ("draft", "approved"), ("approved", "live"), ("live", "paused"), ("paused", "live"), ("live", "retired")]
    assert all(e.changed_by == operator for e in entries)
    assert variant.published_at is not None


def test_illegal_transition_is_refused_and_not_audited():
    variant = StyleVariantFactory(status="draft")
    with pytest.raises(ValidationError, match="cannot become live"):
        variant_transition(variant=variant, to_status="live")
    variant.refresh_from_db()
    assert variant.status == "draft"
    assert not VariantAuditEntry.objects.exists()
    retired = StyleVariantFactory(status="retired")
    with pytest.raises(ValidationError):
        variant_transition(variant=retired, to_status="live")


def test_publish_approves_a_draft_first():
    variant = variant_publish(variant=StyleVariantFactory(status="draft"))
    assert variant.status == "live"
    assert VariantAuditEntry.objects.filter(variant=variant).count() == 2


def test_pin_and_block_are_audited_and_idempotent():
    variant = StyleVariantFactory()
    variant_set_flag(variant=variant, action="pin")
    variant_set_flag(variant=variant, action="pin")
    variant_set_flag(variant=variant, action="block")
    variant.refresh_from_db()
    assert variant.pinned and variant.blocked
    assert list(VariantAuditEntry.objects.values_list("action", flat=True).order_by("id")) == ["pin", "block"]


def test_bulk_action_reports_what_it_could_not_do_and_carries_on():
    ok = StyleVariantFactory(status="approved")
    retired = StyleVariantFactory(status="retired")
    changed, errors = variants_bulk(variants=[retired, ok], action="publish")
    assert changed == 1
    assert len(errors) == 1 and retired.variant_key in errors[0]
    ok.refresh_from_db()
    assert ok.status == "live"


def test_tag_override_replaces_a_group_and_unknown_tags_are_refused():
    copy = CopyVariantFactory(tags={"appeal": ["benefit"]})
    image = ImageMaterialFactory(kit=copy.kit, tags={"dominant_color": ["blue"]})
    layout = LayoutTemplateFactory(kit=copy.kit)
    variant = StyleVariantFactory(placement=copy.kit.placement, kit=copy.kit, copy=copy, image=image, layout=layout)
    variant_set_tag_overrides(variant=variant, overrides={"appeal": ["urgency"]})
    assert variant.tags["appeal"] == ["urgency"]
    assert variant.tags["dominant_color"] == ["blue"]
    with pytest.raises(ValidationError, match="unknown value"):
        variant_set_tag_overrides(variant=variant, overrides={"appeal": ["bogus"]})
