"""Bench-only URLconf: every project URL plus /bench/bare, a DRF view returning fixed JSON."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

BODY = {"decision_id": "00000000-0000-0000-0000-000000000000", "placement": "bench", "bucket": "control",
        "experiment": None, "model_version": "", "items": [{"variant_id": 1, "variant_key": "v1", "rank": 1}]}


class BareApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        return Response(BODY)


urlpatterns = [
    path("bench/bare", BareApi.as_view()),
    path("", include("kaleido.urls")),
]
