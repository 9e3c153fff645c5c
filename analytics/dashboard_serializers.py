"""The typed answers of the dashboard's own endpoints (`/dashboard/api/…`).

Like `analytics/serializers.py`, these describe what `dashboard_selectors` and `dashboard_apis`
return, for `/api/schema/` and the dashboard's generated TypeScript types; the APIs do not reshape
their answers through them.
"""

from __future__ import annotations

from rest_framework import serializers

from creative.models import Placement, ServingMode, VariantStatus
from ranking.models import Experiment, ModelVersion


class MetaPlacementSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    surface = serializers.ChoiceField(choices=Placement.Surface.choices)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    default_mode = serializers.ChoiceField(choices=ServingMode.choices)


class MetaExperimentSerializer(serializers.Serializer):
    slug = serializers.CharField()
    placement = serializers.CharField()
    status = serializers.ChoiceField(choices=Experiment.Status.choices)
    buckets = serializers.DictField(child=serializers.FloatField(), help_text="Bucket → configured share.")
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)


class MetaTagGroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    layer = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())


class DashboardMetaSerializer(serializers.Serializer):
    placements = MetaPlacementSerializer(many=True)
    experiments = MetaExperimentSerializer(many=True, help_text="Newest first.")
    tag_groups = MetaTagGroupSerializer(many=True)
    segment_features = serializers.ListField(child=serializers.CharField(),
                                             help_text="User feature names seen in recent decisions.")


class DailyRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    bucket = serializers.CharField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField(allow_null=True)


class ExperimentDailySerializer(serializers.Serializer):
    experiment = serializers.CharField()
    days = DailyRowSerializer(many=True, help_text="Oldest day first, then by bucket.")


class GalleryVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()  # noqa: A003 - the wire name
    variant_key = serializers.CharField()
    status = serializers.ChoiceField(choices=VariantStatus.choices)
    pinned = serializers.BooleanField()
    blocked = serializers.BooleanField()
    is_control = serializers.BooleanField()
    tags = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    headline = serializers.CharField(allow_blank=True)
    subline = serializers.CharField(allow_blank=True)
    cta = serializers.CharField(allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    image_url = serializers.CharField(allow_blank=True)
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField(allow_null=True, help_text="Null when never shown.")
    render = serializers.DictField(help_text="The variant's render spec.")


class VariantGallerySerializer(serializers.Serializer):
    placement = serializers.CharField()
    variants = GalleryVariantSerializer(many=True, help_text="Best observed CTR first.")
    status_counts = serializers.DictField(child=serializers.IntegerField(), help_text="Status → variants.")


class CalibrationPointSerializer(serializers.Serializer):
    predicted = serializers.FloatField()
    observed = serializers.FloatField()
    count = serializers.IntegerField()


class ModelRowSerializer(serializers.Serializer):
    version = serializers.CharField()
    placement = serializers.CharField(allow_null=True, help_text="Null for a general model.")
    scope = serializers.ChoiceField(choices=ModelVersion.Scope.choices)
    algo = serializers.ChoiceField(choices=ModelVersion.Algo.choices)
    rows = serializers.IntegerField()
    positive_rate = serializers.FloatField(allow_null=True)
    auc = serializers.FloatField(allow_null=True)
    logloss = serializers.FloatField(allow_null=True)
    calibration_error = serializers.FloatField(allow_null=True)
    train_seconds = serializers.FloatField()
    is_active = serializers.BooleanField()
    activated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    data_from = serializers.DateTimeField(allow_null=True)
    data_to = serializers.DateTimeField(allow_null=True)
    holdout_calibration = CalibrationPointSerializer(
        many=True, allow_null=True, help_text="The training holdout's curve; null for versions trained before "
                                              "it was stored.")
    live_calibration = CalibrationPointSerializer(many=True, help_text="The curve on the traffic it served.")


class ModelListSerializer(serializers.Serializer):
    placement = serializers.CharField(allow_null=True)
    versions = ModelRowSerializer(many=True, help_text="Newest first: the placement's and the general ones.")
    can_manage = serializers.BooleanField(help_text="Whether this user may activate and roll back.")


class ModelStateSerializer(serializers.Serializer):
    version = serializers.CharField()
    is_active = serializers.BooleanField()
