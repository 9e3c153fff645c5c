"""Read endpoints the dashboard needs beyond the public report APIs, and the staff-only model actions.

Reads accept a session with a reporting role or an `analytics:read` key, like the report APIs.
Activating or rolling back a ranker needs a staff user with the operators or admins role.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import ApiKeyPrincipal
from access.permissions import scope_required
from creative.models import Placement, VariantStatus
from creative.selectors import placement_by_slug_or_none
from ranking import services as ranking

from . import selectors
from . import serializers as answers
from .views import can_manage_models

AnalyticsRead = scope_required("analytics:read", staff_allowed=True)


def _placement_or_404(slug: str) -> Placement:
    placement = placement_by_slug_or_none(slug)
    if placement is None:
        raise NotFound(f"Unknown placement '{slug}'.")
    return placement


class CanManageModels(BasePermission):
    message = "Only operators and admins may activate or roll back a model."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or isinstance(user, ApiKeyPrincipal) or not getattr(user, "is_authenticated", False):
            return False
        return can_manage_models(user)


class MetaApi(APIView):
    """Placements, experiments, tag groups and segment features for the dashboard's pickers."""

    permission_classes = [AnalyticsRead]

    @extend_schema(responses={200: answers.DashboardMetaSerializer})
    def get(self, request):
        return Response(selectors.dashboard_meta())


class ExperimentDailyApi(APIView):
    """Daily impressions, clicks and CTR per bucket of one experiment."""

    permission_classes = [AnalyticsRead]

    @extend_schema(responses={200: answers.ExperimentDailySerializer})
    def get(self, request, slug: str):
        try:
            experiment = ranking.experiment_by_slug(slug)
        except ranking.UnknownRecord as exc:
            raise NotFound(str(exc)) from exc
        return Response({"experiment": slug, "days": selectors.experiment_daily(experiment=experiment)})


class VariantGalleryApi(APIView):
    """A placement's variants with thumbnails, tags, status and observed CTR; filterable."""

    permission_classes = [AnalyticsRead]

    class FilterSerializer(serializers.Serializer):
        placement = serializers.SlugField()
        status = serializers.ChoiceField(choices=VariantStatus.choices, required=False, allow_blank=True)
        tag = serializers.RegexField(r"^[\w-]+=[\w-]+$", required=False, allow_blank=True,
                                     error_messages={"invalid": "Use group=value, e.g. button_color=red."})
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)

    @extend_schema(parameters=[FilterSerializer], responses={200: answers.VariantGallerySerializer})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        placement = _placement_or_404(data["placement"])
        variants = selectors.variant_gallery(placement=placement, status=data.get("status", ""),
                                             tag=data.get("tag", ""), query=data.get("q", ""))
        return Response({"placement": placement.slug, "variants": variants,
                         "status_counts": selectors.variant_counts_by_status(placement=placement)})


class ModelListApi(APIView):
    """Registry versions (optionally of one placement) with holdout metrics and a live calibration curve."""

    permission_classes = [AnalyticsRead]

    @extend_schema(responses={200: answers.ModelListSerializer})
    def get(self, request):
        slug = request.query_params.get("placement", "")
        versions = selectors.model_versions(placement=_placement_or_404(slug) if slug else None)
        can_manage = CanManageModels().has_permission(request, self)
        return Response({"placement": slug or None, "versions": versions, "can_manage": can_manage})


class ModelActivateApi(APIView):
    """Make a registry version the one that serves its scope (staff with change permission)."""

    permission_classes = [CanManageModels]

    @extend_schema(request=None, responses={200: answers.ModelStateSerializer})
    def post(self, request, version: str):
        try:
            mv = ranking.activate_version(version=version)
        except ranking.UnknownRecord as exc:
            raise NotFound(str(exc)) from exc
        return Response({"version": mv.version, "is_active": mv.is_active}, status=status.HTTP_200_OK)


class ModelRollbackApi(APIView):
    """Re-activate the version that served before the current one (staff with change permission)."""

    permission_classes = [CanManageModels]

    class InputSerializer(serializers.Serializer):
        placement = serializers.SlugField(required=False, allow_blank=True,
                                          help_text="Empty rolls back the general model.")

    @extend_schema(request=InputSerializer, responses={200: answers.ModelStateSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        slug = payload.validated_data.get("placement") or ""
        placement = None
        if slug:
            placement = placement_by_slug_or_none(slug)
            if placement is None:
                raise ValidationError({"placement": [f"Unknown placement '{slug}'."]})
        try:
            mv = ranking.roll_back(placement=placement)
        except ranking.UnknownRecord as exc:
            raise ValidationError({"placement": [str(exc)]}) from exc
        return Response({"version": mv.version, "is_active": mv.is_active})


class RolloutListApi(APIView):
    """Gradual releases of models (ranking.rollout), optionally of one placement: where each ramp stands."""

    permission_classes = [AnalyticsRead]

    @extend_schema(responses={200: answers.RolloutListSerializer})
    def get(self, request):
        slug = request.query_params.get("placement", "")
        ramps = ranking.rollouts(placement=_placement_or_404(slug) if slug else None, limit=20)
        return Response({"placement": slug or None, "rollouts": [ramp.as_dict() for ramp in ramps],
                         "can_manage": CanManageModels().has_permission(request, self)})


class RolloutStartApi(APIView):
    """Release a version gradually (staff who may activate models); the activation gate judges it first."""

    permission_classes = [CanManageModels]

    class InputSerializer(serializers.Serializer):
        steps = serializers.ListField(child=serializers.FloatField(min_value=0.0, max_value=1.0), required=False,
                                      min_length=1, max_length=10,
                                      help_text="Shares of the model bucket's users, increasing (default 5%, 20%, 50%).")
        min_dwell_s = serializers.IntegerField(required=False, min_value=0, max_value=30 * 86400)
        min_impressions = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)
        force = serializers.BooleanField(required=False, default=False,
                                         help_text="Start although the activation gate refuses (kept in the ramp's "
                                                   "history and the version's registry entry).")

    @extend_schema(request=InputSerializer, responses={201: answers.RolloutSerializer})
    def post(self, request, version: str):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            ramp = ranking.start_model_rollout(version=version, by=request.user.get_username(),
                                               **payload.validated_data)
        except ranking.UnknownRecord as exc:
            raise NotFound(str(exc)) from exc
        return Response(ramp.as_dict(), status=status.HTTP_201_CREATED)


class RolloutCancelApi(APIView):
    """Stop a ramp under way; the incumbent serves everyone again."""

    permission_classes = [CanManageModels]

    @extend_schema(request=None, responses={200: answers.RolloutSerializer})
    def post(self, request, rollout_id: int):
        try:
            ramp = ranking.cancel_model_rollout(rollout_id=rollout_id, by=request.user.get_username())
        except ranking.UnknownRecord as exc:
            raise NotFound(str(exc)) from exc
        return Response(ramp.as_dict())
