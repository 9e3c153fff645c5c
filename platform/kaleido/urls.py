from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from access.login_throttle import ThrottledAdminAuthenticationForm, admin_login
from kaleido import health, metrics

admin.site.login_form = ThrottledAdminAuthenticationForm  # a few failed passwords, then a pause

urlpatterns = [
    # The serving hot paths (rank, then events) first: Django tries patterns in order on every request.
    path("api/v1/", include("ranking.urls")),
    path("api/v1/", include("analytics.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]), name="api-docs"),
    path("dashboard/", include("analytics.dashboard.urls")),
    # Rendered variants and images; behind a real deployment a CDN or nginx serves these.
    path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = "kaleido.api_errors.not_found"
handler500 = "kaleido.api_errors.server_error"
