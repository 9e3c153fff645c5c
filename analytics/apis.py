from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import scope_required

from .ingestion import MAX_EVENTS_PER_REQUEST, record_events


class EventsApi(APIView):
    """Report impressions, clicks and conversions. Each event is validated on its own."""

    permission_classes = [scope_required("events")]

    class InputSerializer(serializers.Serializer):
        # Events are validated one by one in the service so one bad event never rejects the batch.
        events = serializers.ListField(child=serializers.JSONField(), allow_empty=False,
                                       max_length=MAX_EVENTS_PER_REQUEST)

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        rejected = serializers.ListField(child=serializers.DictField())

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = record_events(payload.validated_data["events"])
        return Response(self.OutputSerializer(result.as_dict()).data, status=status.HTTP_202_ACCEPTED)
