from django.urls import path

from .apis import RankApi

urlpatterns = [
    path("rank", RankApi.as_view(), name="rank"),
]
