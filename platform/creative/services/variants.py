"""Variant lifecycle: status transitions, pin/block flags, tag overrides, revisions, all audited.

Review is a gate: a draft is approved before it can go live ("publish" refuses a draft; "approve and
publish" records both steps), a retired variant can be brought back only to paused, and a live or paused
variant whose parts change gets a pending revision (creative.services.rendering.variant_rerender) that
serves only once approved here.
"""

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
    S.RETIRED: {S.PAUSED},  # undo a retirement: paused, so going live again is a second, deliberate step
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
        hint = " Approve it first (or use “Approve and publish”)." if from_status == S.DRAFT else ""
        raise ValidationError(
            {"status": f"A {from_status} variant cannot become {to_status} (allowed next: {allowed}).{hint}"}
        )
    refused = (variant.render_spec or {}).get("refused") if isinstance(variant.render_spec, dict) else ""
    if to_status == S.LIVE and refused:
        # Composition refused this render (a text colour it could not bring to contrast within the layout's
        # tolerance): users would see it unreadable, so it cannot go live until it is re-rendered.
        raise ValidationError({"status": f"This variant's render was refused: {refused} Adjust the layout's "
                                         "colours or colour tolerance and render it again."})
    variant.status = to_status
    fields = ["status", "updated_at"]
    if to_status == S.LIVE and variant.published_at is None:
        variant.published_at = timezone.now()
        fields.append("published_at")
    variant.save(update_fields=fields)
    audit(variant, action="status", from_value=from_status, to_value=to_status, by=by, note=note)
    return variant


def audit(variant: StyleVariant, *, action: str, by=None, from_value: str = "", to_value: str = "",
          note: str = "") -> VariantAuditEntry:
    """One audit entry; it keeps the variant's name so it stays readable if the variant is deleted."""
    return VariantAuditEntry.objects.create(
        variant=variant, variant_label=f"{variant.placement.slug}/{variant.variant_key}"[:200], action=action,
        from_value=from_value[:40], to_value=to_value[:40], changed_by=_user_or_none(by), note=note[:300])


def variant_publish(*, variant: StyleVariant, by=None) -> StyleVariant:
    """Approve and publish: a draft is approved, then made live; both steps are audited."""
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
    audit(variant, action=action, from_value=str(not value).lower(), to_value=str(value).lower(), by=by)
    return variant


@transaction.atomic
def variant_revision_approve(*, variant: StyleVariant, by=None) -> StyleVariant:
    """The pending revision becomes what serves (render, image and tags); audited."""
    revision = variant.pending_revision or {}
    if not revision:
        raise ValidationError({"pending_revision": "This variant has no revision awaiting review."})
    variant.render_spec = revision.get("render_spec", variant.render_spec)
    variant.rendered_image = revision.get("rendered_image", variant.rendered_image)
    variant.tags = revision.get("tags", variant.tags)
    variant.pending_revision = {}
    variant.save(update_fields=["render_spec", "rendered_image", "tags", "pending_revision", "updated_at"])
    audit(variant, action="revision", from_value="pending", to_value="approved", by=by,
          note=revision.get("reason", ""))
    return variant


@transaction.atomic
def variant_revision_discard(*, variant: StyleVariant, by=None) -> StyleVariant:
    """Drop the pending revision; the current version keeps serving."""
    revision = variant.pending_revision or {}
    if not revision:
        raise ValidationError({"pending_revision": "This variant has no revision awaiting review."})
    variant.pending_revision = {}
    variant.save(update_fields=["pending_revision", "updated_at"])
    audit(variant, action="revision", from_value="pending", to_value="discarded", by=by,
          note=revision.get("reason", ""))
    return variant


@transaction.atomic
def variant_set_tag_overrides(*, variant: StyleVariant, overrides: dict, by=None) -> StyleVariant:
    """Replace the operator's manual tag overrides and recompute the variant's tags."""
    cleaned = {g: v for g, v in validate_tags(overrides, field="tag_overrides").items()}
    variant.tag_overrides = cleaned
    variant.tags = variant_computed_tags(variant)
    variant.save(update_fields=["tag_overrides", "tags", "updated_at"])
    audit(variant, action="tags", by=by, note=str(cleaned))
    return variant


def variant_computed_tags(variant: StyleVariant) -> dict[str, list[str]]:
    from ..layout_tags import layout_effective_tags

    parts = [p.tags for p in (variant.copy, variant.image) if p is not None]
    if variant.layout is not None:
        parts.append(layout_effective_tags(variant.layout))
    if not parts:  # imported variants carry their own tags
        return merge_tags(variant.tags, overrides=variant.tag_overrides)
    return merge_tags(*parts, overrides=variant.tag_overrides)


def variants_bulk(*, variants: Iterable[StyleVariant], action: str, by=None) -> tuple[int, list[str]]:
    """Apply one admin action to many variants. Returns (changed, errors) and never stops half-way.

    "publish" makes approved (or paused) variants live and refuses drafts; "approve_publish" does both steps;
    "restore" brings a retired variant back to paused."""
    targets = {"approve": S.APPROVED, "publish": S.LIVE, "pause": S.PAUSED, "retire": S.RETIRED,
               "draft": S.DRAFT, "restore": S.PAUSED}
    revisions = {"approve_revision": variant_revision_approve, "discard_revision": variant_revision_discard}
    changed, errors = 0, []
    for variant in variants:
        try:
            if action == "approve_publish":
                variant_publish(variant=variant, by=by)
            elif action in revisions:
                revisions[action](variant=variant, by=by)
            elif action == "restore" and variant.status != S.RETIRED:
                raise ValidationError({"status": f"only a retired variant can be restored (this one is "
                                                 f"{variant.status})."})
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
