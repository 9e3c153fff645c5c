"""The operators' domain: placements, the tag taxonomy, creative kits and their style variants.

Tags everywhere are a mapping of tag group name -> list of values, e.g.
{"button_color": ["red"], "appeal": ["social_proof", "benefit"]}.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from kaleido.serving_modes import (
    DEFAULT_EXPLORATION_EPSILON,
    DEFAULT_NEW_VARIANT_IMPRESSIONS,
    ExplorationPolicy,
    ServingMode,
)

from .dynamic_copy import line_errors
from .layout_specs import validate_template_name


class Placement(models.Model):
    """A slot in the app where a banner or card is shown."""

    class Surface(models.TextChoices):
        BANNER = "banner", "Banner"
        CARD = "card", "Card"
        POPUP = "popup", "Pop-up"
        FEED = "feed", "Feed item"

    ExplorationPolicy = ExplorationPolicy  # ranking's (kaleido.serving_modes), as the field stores it

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    width = models.PositiveIntegerField(help_text="Rendered width in px, e.g. 750 for a banner.")
    height = models.PositiveIntegerField(help_text="Rendered height in px, e.g. 300 for a banner.")
    surface = models.CharField(max_length=20, choices=Surface.choices, default=Surface.BANNER)
    default_mode = models.CharField(
        max_length=10,
        choices=ServingMode.choices,
        default=ServingMode.CONTROL,
        help_text="How the placement serves when no experiment is running.",
    )
    control_variant = models.ForeignKey(
        "StyleVariant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The default design, served to the control bucket and as the fallback.",
    )
    exploration_policy = models.CharField(
        max_length=20, choices=ExplorationPolicy.choices, default=ExplorationPolicy.EPSILON_GREEDY
    )
    exploration_epsilon = models.FloatField(default=DEFAULT_EXPLORATION_EPSILON,
                                            help_text="Largest share of model-bucket traffic explored; it settles to a 1% floor as evidence grows.")
    new_variant_impressions = models.PositiveIntegerField(
        default=DEFAULT_NEW_VARIANT_IMPRESSIONS,
        help_text="A variant well behind its peers gets guaranteed exploration until it has this many.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.width}×{self.height})"


class TagGroup(models.Model):
    class Layer(models.TextChoices):
        PRESENTATION = "presentation", "Presentation"
        CONTENT = "content", "Content"

    name = models.SlugField(max_length=60, unique=True)
    layer = models.CharField(max_length=20, choices=Layer.choices)
    multi_valued = models.BooleanField(default=False)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["layer", "name"]

    def __str__(self) -> str:
        return self.name


class TagValue(models.Model):
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="values")
    value = models.SlugField(max_length=60)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["group__name", "value"]
        constraints = [models.UniqueConstraint(fields=["group", "value"], name="unique_tag_value_per_group")]

    def __str__(self) -> str:
        return f"{self.group.name}={self.value}"


class CreativeKit(models.Model):
    """Atomic materials for one offer on one placement; their cross product gives style variants."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="kits")
    name = models.CharField(max_length=200)
    offer_name = models.CharField(max_length=200, help_text="The product or offer the kit promotes.")
    max_variants = models.PositiveIntegerField(default=200, help_text="Cap on combinations generated.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class TaggedMaterial(models.Model):
    """Shared fields of every material: its tags and where each tag group came from."""

    tags = models.JSONField(default=dict, blank=True)
    # group -> {"source": "auto" | "manual", "confidence": float}; a manual group is never re-tagged.
    tag_sources = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class CopyVariant(TaggedMaterial):
    kit = models.ForeignKey(CreativeKit, on_delete=models.CASCADE, related_name="copies")
    headline = models.CharField(max_length=120)
    subline = models.CharField(max_length=200, blank=True)
    cta = models.CharField(max_length=40, verbose_name="call to action")
    language = models.CharField(max_length=10, default="en", help_text="BCP-47 code, e.g. en, zh")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.headline

    def clean(self) -> None:
        """A line with a live number must name a value Kaleido can fill and carry its static fallback."""
        errors = {name: line_errors(getattr(self, name) or "") for name in ("headline", "subline", "cta")}
        errors = {name: found for name, found in errors.items() if found}
        if errors:
            raise ValidationError(errors)


class ImageMaterial(TaggedMaterial):
    class Source(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        GENERATED = "generated", "Generated"

    kit = models.ForeignKey(CreativeKit, on_delete=models.CASCADE, related_name="images")
    file = models.ImageField(upload_to="materials/", width_field="width", height_field="height")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOADED)
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    # How a generated image was made (model, LoRA mix, prompt, seed, steps, scheduler, size).
    provenance = models.JSONField(default=dict, blank=True)
    generation_job = models.ForeignKey(
        "generation.GenerationJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    job_index = models.PositiveIntegerField(null=True, blank=True)

    class Review(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected (kept for the record, not used)"

    # A generated image waits for an operator (generation job: accept/reject); only accepted images are combined.
    review = models.CharField(max_length=10, choices=Review.choices, default=Review.ACCEPTED,
                              help_text="Only accepted images are used in combinations.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation_job", "job_index"], name="one_image_per_job_index",
                condition=models.Q(generation_job__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else f"image {self.pk}"


class LayoutTemplate(TaggedMaterial):
    class Kind(models.TextChoices):
        SINGLE_IMAGE_TEXT = "single_image_text", "Full image, text over it"
        LEFT_IMAGE = "left_image", "Image left, text right"
        LIST = "list", "List"
        GRID = "grid", "Grid"
        TEXT_ONLY = "text_only", "Text only"

    class TextPosition(models.TextChoices):
        LEFT = "left", "Left"
        RIGHT = "right", "Right"
        BOTTOM = "bottom", "Bottom"

    class Background(models.TextChoices):
        IMAGE = "image", "The image"
        SOLID = "solid", "Solid colour"
        GRADIENT = "gradient", "Gradient"

    kit = models.ForeignKey(CreativeKit, on_delete=models.CASCADE, related_name="layouts")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.SINGLE_IMAGE_TEXT)
    font_scale = models.FloatField(default=1.0, help_text="Relative font size; 1.2 reads as 'large'.")
    button_color = models.CharField(max_length=7, default="#E8322E", help_text="Hex colour, e.g. #E8322E")
    background_style = models.CharField(max_length=20, choices=Background.choices, default=Background.IMAGE)
    background_color = models.CharField(max_length=7, default="#FFFFFF")
    text_position = models.CharField(max_length=10, choices=TextPosition.choices, default=TextPosition.LEFT)
    # The template file (creative/layouts/<name>.json) that draws this layout; blank: its kind's default.
    template = models.CharField(max_length=60, blank=True, default="", validators=[validate_template_name],
                                help_text="Layout template name (docs/composition.md); blank uses the kind's default.")
    color_tolerance = models.FloatField(
        default=6.0, help_text="How far (CIE ΔE) the button colour may move to reach 4.5:1 text contrast; "
                               "beyond it the variant is refused.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class VariantStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    RETIRED = "retired", "Retired"


class StyleVariant(models.Model):
    """One version of the creative: copy × image × layout, or an imported historical design."""

    placement = models.ForeignKey(Placement, on_delete=models.CASCADE, related_name="variants")
    kit = models.ForeignKey(CreativeKit, null=True, blank=True, on_delete=models.CASCADE, related_name="variants")
    # RESTRICT: deleting a material never takes its variants with it; creative.services.materials deletes the
    # variants that never served and retires (and keeps) those that did. Deleting the whole kit still cascades.
    copy = models.ForeignKey(
        CopyVariant, null=True, blank=True, on_delete=models.RESTRICT, related_name="variants"
    )
    image = models.ForeignKey(
        ImageMaterial, null=True, blank=True, on_delete=models.RESTRICT, related_name="variants"
    )
    layout = models.ForeignKey(
        LayoutTemplate, null=True, blank=True, on_delete=models.RESTRICT, related_name="variants"
    )
    variant_key = models.CharField(max_length=80, help_text="Stable key, e.g. c3-i7-l1.")
    status = models.CharField(max_length=10, choices=VariantStatus.choices, default=VariantStatus.DRAFT)
    pinned = models.BooleanField(default=False, help_text="Always ranked first.")
    blocked = models.BooleanField(default=False, help_text="Never served.")
    tags = models.JSONField(default=dict, blank=True, help_text="Union of the parts' tags with overrides applied.")
    tag_overrides = models.JSONField(
        default=dict, blank=True, help_text="Group -> values that replace the parts' values for that group."
    )
    render_spec = models.JSONField(default=dict, blank=True)
    rendered_image = models.CharField(max_length=255, blank=True, help_text="Path under MEDIA_ROOT.")
    published_at = models.DateTimeField(null=True, blank=True)
    # A new version made after a part of a live or paused variant changed: {"render_spec", "rendered_image",
    # "tags", "reason"}. The current version keeps serving until an operator approves this one.
    pending_revision = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["placement_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["placement", "variant_key"], name="unique_variant_key_per_placement"),
        ]
        indexes = [models.Index(fields=["placement", "status"], name="variant_placement_status")]
        # What serves is a separate right from editing: publish, pause, retire, pin, unpin, block, unblock.
        permissions = [("publish_variant", "Can change what serves: publish, pause, retire, pin and block")]

    def __str__(self) -> str:
        return f"{self.placement.slug}/{self.variant_key}"

    @property
    def image_url(self) -> str:
        if self.rendered_image.startswith(("http://", "https://")):
            return self.rendered_image  # an imported design hosted elsewhere
        return f"{settings.MEDIA_URL}{self.rendered_image}" if self.rendered_image else ""


class VariantAuditEntry(models.Model):
    """Who changed a variant's status or flags, and when. Entries outlive their variant (the variant field
    becomes empty, `variant_label` keeps its name); nobody changes or deletes them through the admin."""

    variant = models.ForeignKey(StyleVariant, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="audit_entries")
    variant_label = models.CharField(max_length=200, blank=True, help_text="placement/variant_key when written.")
    action = models.CharField(max_length=40, help_text="status, pin, unpin, block, unblock, tags, render, revision")
    from_value = models.CharField(max_length=40, blank=True)
    to_value = models.CharField(max_length=40, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name_plural = "variant audit entries"

    def __str__(self) -> str:
        return f"{self.variant_label or self.variant_id}: {self.action} {self.from_value} → {self.to_value}"


class ExclusionRule(models.Model):
    """Two tags that must never meet in one variant, e.g. dominant_color=red with button_color=red."""

    kit = models.ForeignKey(
        CreativeKit, null=True, blank=True, on_delete=models.CASCADE, related_name="exclusion_rules",
        help_text="Empty applies to every kit.",
    )
    tag_a = models.CharField(max_length=130, help_text="group=value")
    tag_b = models.CharField(max_length=130, help_text="group=value")

    def __str__(self) -> str:
        return f"never {self.tag_a} with {self.tag_b}"
