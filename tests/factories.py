"""factory_boy factories for the domain models."""

from __future__ import annotations

import io

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from creative import models as m
from ranking.models import Decision, Experiment


def png_bytes(color=(40, 90, 200), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


class PlacementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Placement
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"placement-{n}")
    name = factory.Sequence(lambda n: f"Placement {n}")
    width = 750
    height = 300


class CreativeKitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CreativeKit

    placement = factory.SubFactory(PlacementFactory)
    name = factory.Sequence(lambda n: f"Kit {n}")
    offer_name = "Gold Savings Plan"


class CopyVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CopyVariant

    kit = factory.SubFactory(CreativeKitFactory)
    headline = factory.Sequence(lambda n: f"Earn more with plan {n}")
    subline = "Flexible terms, no fees"
    cta = "Start now"
    language = "en"
    tags = factory.LazyFunction(lambda: {"appeal": ["benefit"]})


class ImageMaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ImageMaterial

    kit = factory.SubFactory(CreativeKitFactory)
    file = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="material.png"))
    tags = factory.LazyFunction(lambda: {"dominant_color": ["blue"]})


class LayoutTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.LayoutTemplate

    kit = factory.SubFactory(CreativeKitFactory)
    name = factory.Sequence(lambda n: f"Layout {n}")
    kind = m.LayoutTemplate.Kind.SINGLE_IMAGE_TEXT
    button_color = "#E8322E"
    tags = factory.LazyFunction(lambda: {"layout": ["single"], "button_color": ["red"]})


class StyleVariantFactory(factory.django.DjangoModelFactory):
    """A variant with no materials, like an imported one; pass copy/image/layout for a composed one."""

    class Meta:
        model = m.StyleVariant

    placement = factory.SubFactory(PlacementFactory)
    variant_key = factory.Sequence(lambda n: f"v{n}")
    status = m.VariantStatus.LIVE
    tags = factory.LazyFunction(lambda: {"button_color": ["red"], "layout": ["single"]})
    render_spec = factory.LazyFunction(
        lambda: {"layout": "single_image_text", "headline": "Hello", "subline": "", "cta": "Go",
                 "colors": {"button": "#E8322E"}, "font_scale": 1.0}
    )


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    slug = factory.Sequence(lambda n: f"exp-{n}")
    placement = factory.SubFactory(PlacementFactory)
    buckets = factory.LazyFunction(lambda: {"control": 0.5, "model": 0.5})
    salt = factory.Sequence(lambda n: f"salt-{n}")


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    placement = factory.SubFactory(PlacementFactory)
    user_id = factory.Sequence(lambda n: f"u-{n}")
    features = factory.LazyFunction(lambda: {"age": 30, "gender": "f"})
    bucket = "random"
    items = factory.LazyFunction(list)
    created_at = factory.LazyFunction(timezone.now)
