from django.urls import path

from .apis import EventsApi

urlpatterns = [
    path("events", EventsApi.as_view(), name="events"),
]
