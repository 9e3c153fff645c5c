"""Variant lifecycle: status transitions, pin/block flags, tag overrides, all audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import StyleVariant, VariantAuditEntry, VariantStatus
from ..taxonomy import merge_tags, validate_tags

S = VariantStatus
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.APPROVED, S.RETIRED},
    S.APPROVED: {S.LIVE, S.DRAFT, S.RETIRED},
    S.LIVE: {S.PAUSED, S.RETIRED},
    S.PAUSED: {S.LIVE, S.RETIRED},
    S.RETIRED: set(),
}
FLAG_ACTIONS = {"pin": ("pinned", True), "unpin": ("pinned", False), "block": ("blocked", True),
                "unblock": ("blocked", False)}


@transaction.atomic
def variant_transition(*, variant: StyleVariant, to_status: str, by=None, note: str = "") -> StyleVariant:
    """Move a variant to a new status if the lifecycle allows it, and audit the change."""
    from_status = variant.status
    if to_status not in S.values:
        raise ValidationError({"status": f"Unknown status '{to_status}'."})
    if to_status == from_status:
        return variant
    if to_status not in ALLOWED_TRANSITIONS[from_status]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[from_status])) or "none"
        raise ValidationError(
            {"status": f"A {from_status} variant cannot become {to_status} (allowed next: {allowed})."}
        )
    variant.status = to_status
    fields = ["status", "updated_at"]
    if to_status == S.LIVE and variant.published_at is None:
        variant.published_at = timezone.now()
        fields.append("published_at")
    variant.save(update_fields=fields)
    VariantAuditEntry.objects.create(
        variant=variant, action="status", from_value=from_status, to_value=to_status,
        changed_by=_user_or_none(by), note=note,
    )
    return variant


def variant_publish(*, variant: StyleVariant, by=None) -> StyleVariant:
    """Approve if needed, then make live."""
    if variant.status == S.DRAFT:
        variant_transition(variant=variant, to_status=S.APPROVED, by=by)
    return variant_transition(variant=variant, to_status=S.LIVE, by=by)


@transaction.atomic
def variant_set_flag(*, variant: StyleVariant, action: str, by=None) -> StyleVariant:
    if action not in FLAG_ACTIONS:
        raise ValidationError({"action": f"Unknown action '{action}'."})
    field, value = FLAG_ACTIONS[action]
    if getattr(variant, field) == value:
        return variant
    setattr(variant, field, value)
    variant.save(update_fields=[field, "updated_at"])
    VariantAuditEntry.objects.create(
        variant=variant, action=action, from_value=str(not value).lower(), to_value=str(value).lower(),
        changed_by=_user_or_none(by),
    )
    return variant


@transaction.atomic
def variant_set_tag_overrides(*, variant: StyleVariant, overrides: dict, by=None) -> StyleVariant:
    """Replace the operator's manual tag overrides and recompute the variant's tags."""
    cleaned = {g: v for g, v in validate_tags(overrides, field="tag_overrides").items()}
    variant.tag_overrides = cleaned
    variant.tags = variant_computed_tags(variant)
    variant.save(update_fields=["tag_overrides", "tags", "updated_at"])
    VariantAuditEntry.objects.create(variant=variant, action="tags", changed_by=_user_or_none(by),
                                     note=str(cleaned)[:300])
    return variant


def variant_computed_tags(variant: StyleVariant) -> dict[str, list[str]]:
    parts = [p.tags for p in (variant.copy, variant.image, variant.layout) if p is not None]
    if not parts:  # imported variants carry their own tags
        return merge_tags(variant.tags, overrides=variant.tag_overrides)
    return merge_tags(*parts, overrides=variant.tag_overrides)


def variants_bulk(*, variants: Iterable[StyleVariant], action: str, by=None) -> tuple[int, list[str]]:
    """Apply one admin action to many variants. Returns (changed, errors) and never stops half-way."""
    targets = {"approve": S.APPROVED, "publish": S.LIVE, "pause": S.PAUSED, "retire": S.RETIRED,
               "draft": S.DRAFT}
    changed, errors = 0, []
    for variant in variants:
        try:
            if action == "publish":
                variant_publish(variant=variant, by=by)
            elif action in targets:
                variant_transition(variant=variant, to_status=targets[action], by=by)
            else:
                variant_set_flag(variant=variant, action=action, by=by)
            changed += 1
        except ValidationError as exc:
            errors.append(f"{variant.variant_key}: {' '.join(exc.messages)}")
    return changed, errors


def _user_or_none(user):
    return user if user is not None and getattr(user, "is_authenticated", False) and user.pk else None
