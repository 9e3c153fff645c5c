"""The typed answers of the dashboard's own endpoints (`/dashboard/api/…`).

Like `analytics/serializers.py`, these describe what `selectors` and `apis` of this package
return, for `/api/schema/` and the dashboard's generated TypeScript types; the APIs do not reshape
their answers through them. Experiments, model versions and ramps are the fields of ranking's
`ExperimentInfo`, `ModelVersionInfo` and `RolloutInfo` (ranking.services), field by field.
"""

from __future__ import annotations

from rest_framework import serializers

from creative.models import Placement, ServingMode, VariantStatus
from ranking.services import EXPERIMENT_STATUSES, MODEL_ALGOS, MODEL_SCOPES


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
    status = serializers.ChoiceField(choices=EXPERIMENT_STATUSES)
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
    scope = serializers.ChoiceField(choices=MODEL_SCOPES)
    algo = serializers.ChoiceField(choices=MODEL_ALGOS)
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


class RolloutGuardrailSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=["ctr", "cvr", "fallback_rate", "scoring_latency", "sample_ratio"])
    passed = serializers.BooleanField()
    measured = serializers.BooleanField(help_text="False: not enough data yet (a guardrail not measured never fails).")
    value = serializers.FloatField(allow_null=True)
    interval = serializers.ListField(child=serializers.FloatField(allow_null=True), allow_null=True,
                                     help_text="[low, high]; for CTR/CVR the always-valid interval of the difference.")
    limit = serializers.FloatField(allow_null=True)
    detail = serializers.CharField()


class RolloutCheckSerializer(serializers.Serializer):
    rollout_id = serializers.IntegerField()
    at = serializers.DateTimeField()
    step = serializers.IntegerField(help_text="0-based index into steps.")
    share = serializers.FloatField()
    candidate_users = serializers.IntegerField()
    incumbent_users = serializers.IntegerField()
    candidate_impressions = serializers.IntegerField()
    incumbent_impressions = serializers.IntegerField()
    dwell_s = serializers.FloatField()
    guardrails = RolloutGuardrailSerializer(many=True)
    action = serializers.ChoiceField(choices=["wait", "advance", "complete", "rollback"])
    reason = serializers.CharField()


class RolloutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["model", "variants"])
    placement = serializers.CharField()
    candidate = serializers.CharField(allow_null=True, help_text="The model ramped; null for a variant ramp.")
    variant_ids = serializers.ListField(child=serializers.IntegerField(),
                                        help_text="A variant ramp's variants (hidden outside its arm).")
    incumbent = serializers.CharField(allow_null=True, help_text="Null: no model served, the control design did.")
    status = serializers.ChoiceField(choices=["ramping", "completed", "rolled_back", "cancelled"])
    steps = serializers.ListField(child=serializers.FloatField())
    step = serializers.IntegerField()
    share = serializers.FloatField(help_text="The candidate's share of the model bucket's users now (0 once ended).")
    min_dwell_s = serializers.IntegerField()
    min_impressions = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    step_started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    started_by = serializers.CharField()
    reason = serializers.CharField(help_text="Why it ended; empty while ramping.")
    last_check = RolloutCheckSerializer(allow_null=True)
    history = serializers.ListField(child=serializers.DictField())


class RolloutListSerializer(serializers.Serializer):
    placement = serializers.CharField(allow_null=True)
    rollouts = RolloutSerializer(many=True, help_text="Newest first, at most 20.")
    can_manage = serializers.BooleanField(help_text="Whether this user may start and cancel ramps.")
