"""The analysts' dashboard page: one Django template that loads the Vite-built app.

The app is built into frontend/dashboard/dist (served by WhiteNoise as static files); Vite's
manifest names the hashed entry files, so a new build is picked up without a restart of the
browser cache.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import user_passes_test
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View

from access.roles import can_read_reports

PAGES = ("experiments", "attribution", "variants", "models")
MANIFEST_NAME = "dashboard/manifest.json"
ENTRY = "src/main.ts"


def manifest_path() -> Path:
    return Path(settings.BASE_DIR) / "frontend" / "dashboard" / "dist" / MANIFEST_NAME


@lru_cache(maxsize=4)
def _read_manifest(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def dashboard_assets() -> dict[str, list[str] | str]:
    """Static paths of the built entry script and its stylesheets; empty when not built yet."""
    path = manifest_path()
    try:
        manifest = _read_manifest(str(path), path.stat().st_mtime)
    except (OSError, ValueError):
        return {"js": "", "css": []}
    entry = manifest.get(ENTRY) or next((c for c in manifest.values() if c.get("isEntry")), None)
    if not entry:
        return {"js": "", "css": []}
    return {"js": entry["file"], "css": list(entry.get("css", []))}


def can_manage_models(user) -> bool:
    """Activating or rolling back a ranker changes what users see: staff holding `ranking.activate_model`
    (operators and admins), the permission the admin's actions check too."""
    return bool(getattr(user, "is_staff", False) and user.has_perm("ranking.activate_model"))


def _is_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


@method_decorator(user_passes_test(_is_staff, login_url=settings.LOGIN_URL), name="dispatch")
class DashboardView(View):
    page = "experiments"

    def get(self, request, **kwargs):
        if not can_read_reports(request.user):
            # Staff without a role: the report APIs would refuse every call, so say why up front.
            return render(request, "dashboard/no_role.html", status=403)
        config = {
            "page": self.page,
            "pages": list(PAGES),
            "basePath": "/dashboard/",
            "apiBase": "/api/v1/",
            "dashboardApi": "/dashboard/api/",
            "staticUrl": settings.STATIC_URL,
            "csrfToken": get_token(request),
            "user": {"username": request.user.get_username(), "canManageModels": can_manage_models(request.user)},
            "logoutUrl": "/admin/logout/",
        }
        context = {"config": config, "assets": dashboard_assets(), "page": self.page}
        return render(request, "dashboard/index.html", context)
