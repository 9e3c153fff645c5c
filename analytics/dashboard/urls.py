from django.urls import path

from . import apis
from .views import PAGES, DashboardView

app_name = "dashboard"

urlpatterns = [
    path("", DashboardView.as_view(page="experiments"), name="home"),
    *[path(f"{page}/", DashboardView.as_view(page=page), name=page) for page in PAGES],
    path("api/meta", apis.MetaApi.as_view(), name="api-meta"),
    path("api/experiments/<slug:slug>/daily", apis.ExperimentDailyApi.as_view(), name="api-experiment-daily"),
    path("api/variants", apis.VariantGalleryApi.as_view(), name="api-variants"),
    path("api/models", apis.ModelListApi.as_view(), name="api-models"),
    path("api/models/rollback", apis.ModelRollbackApi.as_view(), name="api-model-rollback"),
    path("api/models/<str:version>/activate", apis.ModelActivateApi.as_view(), name="api-model-activate"),
    path("api/models/<str:version>/rollout", apis.RolloutStartApi.as_view(), name="api-model-rollout"),
    path("api/rollouts", apis.RolloutListApi.as_view(), name="api-rollouts"),
    path("api/rollouts/<int:rollout_id>/cancel", apis.RolloutCancelApi.as_view(), name="api-rollout-cancel"),
]
