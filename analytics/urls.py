from django.urls import path

from .apis import AttributionApi, EventsApi, ExperimentReportApi, ExplainApi, IdentifiabilityApi, OffPolicyApi

urlpatterns = [
    path("events", EventsApi.as_view(), name="events"),
    path("experiments/<slug:slug>/report", ExperimentReportApi.as_view(), name="experiment-report"),
    path("placements/<slug:slug>/attribution", AttributionApi.as_view(), name="placement-attribution"),
    path("placements/<slug:slug>/identifiability", IdentifiabilityApi.as_view(), name="placement-identifiability"),
    path("placements/<slug:slug>/explain", ExplainApi.as_view(), name="placement-explain"),
    path("placements/<slug:slug>/ope", OffPolicyApi.as_view(), name="placement-ope"),
]
