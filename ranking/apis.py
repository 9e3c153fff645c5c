from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import scope_required

from . import services

MAX_FEATURES = 100


class NoLiveVariantError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The placement has no live variant."
    default_code = "no_live_variant"


def _validate_flat_map(value: dict, *, name: str) -> dict:
    """An open map of string → string | number | boolean; nothing nested."""
    if len(value) > MAX_FEATURES:
        raise serializers.ValidationError(f"At most {MAX_FEATURES} {name}.")
    errors = []
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            errors.append(f"'{key}': keys are strings of 1 to 64 characters.")
        elif isinstance(item, bool | int | float) and not (isinstance(item, float) and not math.isfinite(item)):
            continue
        elif isinstance(item, str) and len(item) <= 200:
            continue
        else:
            errors.append(f"'{key}': must be a string (≤ 200 characters), a number or a boolean.")
    if errors:
        raise serializers.ValidationError(errors)
    return value


class RankApi(APIView):
    """Rank a placement's live variants for one user; logs a decision and returns its id."""

    permission_classes = [scope_required("rank")]

    class InputSerializer(serializers.Serializer):
        class UserSerializer(serializers.Serializer):
            id = serializers.CharField(max_length=128)  # noqa: A003
            features = serializers.DictField(required=False, default=dict)

            def validate_features(self, value):
                return _validate_flat_map(value, name="features")

        placement = serializers.SlugField(max_length=80)
        user = UserSerializer()
        k = serializers.IntegerField(min_value=1, max_value=50, default=1)
        context = serializers.DictField(required=False, default=dict)

        def validate_context(self, value):
            return _validate_flat_map(value, name="context keys")

    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            variant_id = serializers.IntegerField()
            variant_key = serializers.CharField()
            rank = serializers.IntegerField()
            score = serializers.FloatField(allow_null=True)
            propensity = serializers.FloatField()
            tags = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
            image_url = serializers.CharField()
            render = serializers.DictField()

        decision_id = serializers.CharField()
        placement = serializers.CharField()
        bucket = serializers.ChoiceField(choices=["control", "random", "model"])
        experiment = serializers.CharField(allow_null=True)
        model_version = serializers.CharField(allow_blank=True)
        items = ItemSerializer(many=True)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            result = services.rank_variants(placement=data["placement"], user_id=data["user"]["id"],
                                            features=data["user"]["features"], k=data["k"],
                                            context=data["context"])
        except services.UnknownPlacement as exc:
            raise exceptions.NotFound(f"Unknown placement '{data['placement']}'.") from exc
        except services.NoLiveVariant as exc:
            raise NoLiveVariantError(f"Placement '{data['placement']}' has no live variant.") from exc
        # Built directly (the OutputSerializer documents the shape): this is the hot path.
        body = {
            "decision_id": result.decision_id, "placement": result.placement, "bucket": result.bucket,
            "experiment": result.experiment, "model_version": result.model_version,
            "items": [{"variant_id": it.variant_id, "variant_key": it.variant_key, "rank": it.rank,
                       "score": it.score, "propensity": it.propensity, "tags": it.tags,
                       "image_url": request.build_absolute_uri(it.image_url) if it.image_url else "",
                       "render": it.render} for it in result.items],
        }
        return Response(body, status=status.HTTP_200_OK)
