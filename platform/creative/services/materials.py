"""Deleting a material (copy, image or layout) without deleting what has served.

Rank only ever serves live variants, so a variant that has been live (live, paused, retired, or with a
`published_at`) is the kind that decisions and events name; one that never went live has no traffic.
Deleting a material therefore:

- deletes its variants that never served (drafts and approved variants never published);
- retires the variants that did, keeps them with their tags, render spec and rendered image, and detaches
  them from the deleted material (the field becomes empty), so their history stays readable;
- deletes the material, and an image's file once the transaction has committed.

The foreign keys from a variant to its materials are `RESTRICT`, so any other path that deletes a material
with variants (a shell, an inline form) is refused instead of cascading. Deleting a whole kit or placement
still cascades; `served_variants` lets the admin refuse that while any of their variants has served.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet

from ..models import (
    CopyVariant,
    ImageMaterial,
    LayoutTemplate,
    StyleVariant,
    VariantStatus,
)
from .variants import audit, variant_transition

Material = CopyVariant | ImageMaterial | LayoutTemplate
# The variant field that points at each kind of material.
MATERIAL_FIELD = {CopyVariant: "copy", ImageMaterial: "image", LayoutTemplate: "layout"}
SERVED_STATUSES = (VariantStatus.LIVE, VariantStatus.PAUSED, VariantStatus.RETIRED)


def served_variants(variants: QuerySet[StyleVariant]) -> QuerySet[StyleVariant]:
    """The variants among these that may have decisions or events: every one that has been live."""
    return variants.filter(Q(status__in=SERVED_STATUSES) | Q(published_at__isnull=False))


@dataclass(frozen=True)
class MaterialDeletionPlan:
    """What deleting a material does to its variants, before it is done (the admin's confirmation page)."""

    material: Material
    delete: list[StyleVariant] = field(default_factory=list)  # never served
    keep: list[StyleVariant] = field(default_factory=list)  # served: retired, kept, detached


@dataclass(frozen=True)
class MaterialDeletion:
    material: str
    deleted_variants: int
    retired_variants: list[str]  # keys retired by this deletion
    kept_variants: list[str]  # keys of every served variant kept (retired now or before)

    def summary(self) -> str:
        text = f"Deleted {self.material}"
        if self.deleted_variants:
            text += f" and {self.deleted_variants} variant(s) that never served"
        if self.kept_variants:
            text += (f"; kept {len(self.kept_variants)} variant(s) that served traffic "
                     f"({', '.join(self.kept_variants[:10])}{' …' if len(self.kept_variants) > 10 else ''}): "
                     f"{len(self.retired_variants)} retired now, their decisions and events stay")
        return text + "."


def _variants_of(material: Material) -> QuerySet[StyleVariant]:
    return StyleVariant.objects.filter(**{MATERIAL_FIELD[type(material)]: material}).order_by("id")


def material_deletion_plan(*, material: Material) -> MaterialDeletionPlan:
    variants = _variants_of(material)
    keep = list(served_variants(variants))
    kept_ids = {v.pk for v in keep}
    return MaterialDeletionPlan(material=material, delete=[v for v in variants if v.pk not in kept_ids], keep=keep)


@transaction.atomic
def material_delete(*, material: Material, by=None) -> MaterialDeletion:
    """Delete a material; its served variants are retired and kept, the others deleted with it."""
    name = f"{material._meta.verbose_name} '{material}'"
    field_name = MATERIAL_FIELD[type(material)]
    variants = _variants_of(material).select_for_update()
    keep = list(served_variants(variants))
    retired = []
    for variant in keep:
        note = f"retired: its {field_name} {name} was deleted"
        if variant.status != VariantStatus.RETIRED:
            variant_transition(variant=variant, to_status=VariantStatus.RETIRED, by=by, note=note[:300])
            retired.append(variant.variant_key)
        else:
            audit(variant, action=field_name, by=by, note=f"its {field_name} {name} was deleted")
    kept_ids = [v.pk for v in keep]
    StyleVariant.objects.filter(pk__in=kept_ids).update(**{field_name: None})
    _, deleted = variants.exclude(pk__in=kept_ids).delete()
    if isinstance(material, ImageMaterial) and material.file:
        storage, file_name = material.file.storage, material.file.name
        transaction.on_commit(lambda: storage.delete(file_name))
    material.delete()
    return MaterialDeletion(material=name, deleted_variants=deleted.get(StyleVariant._meta.label, 0),
                            retired_variants=retired, kept_variants=[v.variant_key for v in keep])


@dataclass(frozen=True)
class ImageReview:
    accepted: int
    rejected: int
    deleted_variants: int  # never served, made from an image rejected after it had been accepted
    retired_variants: list[str]  # served, retired because their image was rejected


@transaction.atomic
def images_review(*, accept: list[ImageMaterial], reject: list[ImageMaterial], by=None) -> ImageReview:
    """Accept images into their kit's combinations, or reject them: a rejected image stays, with its file and
    provenance, for the record, but is never combined again. Variants already made from it are treated as
    when a material is deleted: the ones that never served are deleted, the served ones retired and kept."""
    deleted, retired = 0, []
    for image in accept:
        if image.review != ImageMaterial.Review.ACCEPTED:
            image.review = ImageMaterial.Review.ACCEPTED
            image.save(update_fields=["review"])
    for image in reject:
        variants = _variants_of(image).select_for_update()
        served = list(served_variants(variants))
        for variant in served:
            if variant.status != VariantStatus.RETIRED:
                variant_transition(variant=variant, to_status=VariantStatus.RETIRED, by=by,
                                   note=f"retired: its image '{image}' was rejected")
                retired.append(variant.variant_key)
        _, counts = variants.exclude(pk__in=[v.pk for v in served]).delete()
        deleted += counts.get(StyleVariant._meta.label, 0)
        if image.review != ImageMaterial.Review.REJECTED:
            image.review = ImageMaterial.Review.REJECTED
            image.save(update_fields=["review"])
    return ImageReview(accepted=len(accept), rejected=len(reject), deleted_variants=deleted, retired_variants=retired)


def material_parts_changed(*, material: Material, by=None) -> dict[str, int]:
    """A material's content changed (copy text, image file, layout fields): its variants are rendered again
    and sent back through review (creative.services.rendering.variant_rerender). Counts per outcome."""
    from .rendering import variants_rerender

    name = f"{material._meta.verbose_name} '{material}'"
    variants = _variants_of(material).exclude(status=VariantStatus.RETIRED).exclude(rendered_image="").select_related(
        "copy", "image", "layout", "placement")
    return variants_rerender(variants=variants, by=by, reason=f"its {name} changed")
