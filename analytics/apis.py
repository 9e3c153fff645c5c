from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import scope_required
from creative.selectors import placement_by_slug
from kaleido.api_errors import RETRY_AFTER, error_answers
from kaleido.metrics import count_events
from ranking import services as ranking
from ranking.buckets import BUCKETS

from . import serializers as answers
from .ingestion import MAX_EVENTS_PER_REQUEST, record_events
from .models import EventType


class EventSerializer(serializers.Serializer):
    """One event. Each is checked on its own: a bad one is listed in `rejected` and does not reject its batch."""

    # Documentation only: analytics.ingestion validates each event itself (see EventsApi.InputSerializer).

    event_id = serializers.CharField(max_length=64, help_text="The client's id for the event; stored once.")
    type = serializers.ChoiceField(choices=EventType.values)  # noqa: A003
    decision_id = serializers.UUIDField(
        help_text="Required: the decision_id /rank answered for what was shown. An event whose decision "
                  "is not stored (yet) is held outside every count until it is, and dropped if it never is.")
    variant_id = serializers.IntegerField(min_value=1, help_text="A variant that decision showed.")
    user_id = serializers.CharField(max_length=128)
    placement = serializers.CharField(max_length=80, help_text="The placement of that decision.")
    position = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=1,
                                        help_text="Where the variant was shown (1 = first).")
    ts = serializers.DateTimeField(help_text="When it happened: ISO-8601 with a zone, within the retention "
                                             "window and at most a day ahead.")
    rerank = serializers.ChoiceField(
        choices=["fatigue"], required=False,
        help_text="Why the client moved this variant after /rank logged its decision: the SDK sends \"fatigue\" "
                  "on impressions of a decision its fatigue re-rank reordered. `position` is then where it was "
                  "shown; the decision keeps the slot the policy chose (stored, read by the interaction log).")
    server_position = serializers.IntegerField(
        min_value=1, max_value=1000, required=False,
        help_text="The position /rank gave the variant (`position` is where it was shown). Informative: the "
                  "slot the policy chose is read from the decision itself.")
    rerank_probability = serializers.FloatField(
        min_value=0, max_value=1, required=False,
        help_text="With `rerank`: the probability the client's re-rank had of this shown order given the "
                  "decision's order, above 0 and at most 1. Omitted: 1 (a deterministic re-rank, as the SDK's).")


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's index in the request's `events`.")
    error = serializers.CharField(help_text="`field: problem`.")


@extend_schema_field(EventSerializer(many=True))
class _DocumentedEvents(serializers.ListField):
    """A list of events that the schema types item by item; validated here as a plain list."""


@extend_schema_field(RejectedEventSerializer(many=True))
class _DocumentedRejections(serializers.ListField):
    """The rejected events, typed in the schema; answered as the service lists them."""


class EventsApi(APIView):
    """Report impressions, clicks and conversions. Each event is validated on its own."""

    permission_classes = [scope_required("events")]

    class InputSerializer(serializers.Serializer):
        # Events are validated one by one in the service so one bad event never rejects the batch.
        # No per-item child field: a JSONField per event costs more than the whole validation in the service.
        events = _DocumentedEvents(allow_empty=False, max_length=MAX_EVENTS_PER_REQUEST)

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField(help_text="Events stored now (or held for their decision).")
        duplicates = serializers.IntegerField(help_text="Events whose event_id was already stored.")
        rejected = _DocumentedRejections(child=serializers.DictField())

    @extend_schema(request=InputSerializer, parameters=[RETRY_AFTER],
                   responses={202: OutputSerializer, **error_answers(400, 401, 403, 413, 429, 503)})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        api_key = getattr(request.user, "api_key", None)
        result = record_events(payload.validated_data["events"],
                               placements_allowed=api_key.placements if api_key is not None else None)
        count_events(result)
        return Response(self.OutputSerializer(result.as_dict()).data, status=status.HTTP_202_ACCEPTED)


class ExperimentReportApi(APIView):
    """Per-bucket CTR/CVR with intervals, lift vs control, SRM, CUPED, segment lifts and logging health."""

    permission_classes = [scope_required("analytics:read", staff_allowed=True)]

    class InputSerializer(serializers.Serializer):
        segments = serializers.BooleanField(default=True)
        sequential = serializers.BooleanField(default=True)

    @extend_schema(parameters=[OpenApiParameter("segments", bool, description="Include per-segment lifts."),
                               OpenApiParameter("sequential", bool, description=(
                                   "Headline p-values always-valid (default, safe to read daily); false "
                                   "makes the fixed-horizon ones the headline. Both are always in the answer."))],
                   responses={200: answers.ExperimentReportSerializer, **error_answers(400)})
    def get(self, request, slug: str):
        from .experiments import ExperimentReportError, experiment_report

        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            experiment = ranking.experiment_by_slug(slug)
        except ranking.UnknownRecord as exc:
            raise exceptions.NotFound(str(exc)) from exc
        try:
            report = experiment_report(experiment=experiment, segments=params.validated_data["segments"],
                                       sequential=params.validated_data["sequential"])
        except ExperimentReportError as exc:  # e.g. no control bucket: the analyst fixes the experiment
            raise serializers.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(report)


class AttributionApi(APIView):
    """Segment × tag grid with normalized preference, and the ranked findings in plain words.

    The default parameters are served from the placement's prepared snapshot when a fresh one holds the
    grid (`source`, `computed_at`, `age_s` say which and how old); anything else is computed live."""

    permission_classes = [scope_required("analytics:read", staff_allowed=True)]

    class InputSerializer(serializers.Serializer):
        segment = serializers.CharField(max_length=80)
        tag_group = serializers.CharField(max_length=60)
        buckets = serializers.CharField(required=False, default="random",
                                        help_text="Comma-separated buckets; other than random uses IPW.")
        min_support = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
        days = serializers.IntegerField(required=False, min_value=1, max_value=3650)

    @extend_schema(parameters=[OpenApiParameter("segment", str, required=True),
                               OpenApiParameter("tag_group", str, required=True),
                               OpenApiParameter("buckets", str), OpenApiParameter("min_support", int),
                               OpenApiParameter("days", int)],
                   responses={200: answers.AttributionSerializer, **error_answers(400)})
    def get(self, request, slug: str):
        from .attribution import HighCardinalityFeature, split_buckets
        from .attribution_snapshots import attribution_answer

        placement = placement_by_slug(slug)
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        buckets = split_buckets(data["buckets"])
        unknown = sorted(set(buckets) - set(BUCKETS))
        if unknown:
            raise serializers.ValidationError({"buckets": [f"Unknown bucket(s): {', '.join(unknown)}."]})
        try:
            grid = attribution_answer(placement=placement, segment=data["segment"], tag_group=data["tag_group"],
                                      buckets=buckets, min_support=data.get("min_support"), days=data.get("days"))
        except HighCardinalityFeature as exc:  # a feature with a value per user is not a segment
            raise serializers.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(grid)


class IdentifiabilityApi(APIView):
    """Which tag effects the live catalogue can tell apart; aliased tags and the material that would separate them."""

    permission_classes = [scope_required("analytics:read", staff_allowed=True)]

    @extend_schema(responses={200: answers.IdentifiabilitySerializer})
    def get(self, request, slug: str):
        from .identifiability import catalogue_identifiability

        placement = placement_by_slug(slug)
        return Response(catalogue_identifiability(placement=placement))


class ExplainApi(APIView):
    """EBM term importances (main effects and pairs), cached per placement and refreshed on the cpu queue."""

    permission_classes = [scope_required("analytics:read", staff_allowed=True)]

    class InputSerializer(serializers.Serializer):
        refresh = serializers.BooleanField(default=False)

    @extend_schema(parameters=[OpenApiParameter("refresh", bool)],
                   responses={200: answers.ExplanationSerializer, 202: answers.ExplanationSerializer})
    def get(self, request, slug: str):
        from .explain import explanation_for

        placement = placement_by_slug(slug)
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        body = explanation_for(placement=placement, refresh=params.validated_data["refresh"])
        return Response(body, status=status.HTTP_200_OK if body["status"] == "ready" else status.HTTP_202_ACCEPTED)


class OffPolicyApi(APIView):
    """IPS, SNIPS and doubly robust estimates of a candidate model's CTR from logged decisions."""

    permission_classes = [scope_required("analytics:read", staff_allowed=True)]

    class InputSerializer(serializers.Serializer):
        model_version = serializers.CharField(max_length=40)
        buckets = serializers.CharField(required=False, default="random")
        days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
        include_training = serializers.BooleanField(required=False, default=False)
        clip = serializers.FloatField(required=False, min_value=1.0,
                                      help_text="Cap on importance weights (default: none).")

    @extend_schema(parameters=[OpenApiParameter("model_version", str, required=True),
                               OpenApiParameter("buckets", str), OpenApiParameter("days", int),
                               OpenApiParameter("include_training", bool), OpenApiParameter("clip", float)],
                   responses={200: answers.OffPolicyEstimateSerializer})
    def get(self, request, slug: str):
        from .attribution import split_buckets
        from .ope import OpeError, off_policy_estimate

        placement = placement_by_slug(slug)
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            result = off_policy_estimate(placement=placement, model_version=data["model_version"],
                                         buckets=split_buckets(data["buckets"]),
                                         days=data.get("days"), include_training=data["include_training"],
                                         clip=data.get("clip"))
        except OpeError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(result)
