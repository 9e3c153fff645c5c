"""Who may call what: every API endpoint in the schema against every kind of caller, and every admin page
against every role. A mismatch anywhere fails with the whole table of mismatches."""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from access.roles import ADMINS, ANALYSTS, OPERATORS
from ranking import services as ranking

from .factories import ALL_SCOPES, key_with, role_user, served_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# (method, schema path) -> what guards it: "rank"/"events" (keys only), "report" (analytics:read key or a
# role's session), "manage" (a staff session allowed to change model versions; never a key).
GUARDS = {
    ("POST", "/api/v1/rank"): "rank",
    ("POST", "/api/v1/events"): "events",
    ("GET", "/api/v1/experiments/{slug}/report"): "report",
    ("GET", "/api/v1/placements/{slug}/attribution"): "report",
    ("GET", "/api/v1/placements/{slug}/explain"): "report",
    ("GET", "/api/v1/placements/{slug}/ope"): "report",
    ("GET", "/api/v1/placements/{slug}/identifiability"): "report",
    ("GET", "/dashboard/api/meta"): "report",
    ("GET", "/dashboard/api/experiments/{slug}/daily"): "report",
    ("GET", "/dashboard/api/variants"): "report",
    ("GET", "/dashboard/api/models"): "report",
    ("POST", "/dashboard/api/models/{version}/activate"): "manage",
    ("POST", "/dashboard/api/models/rollback"): "manage",
    ("GET", "/dashboard/api/rollouts"): "report",
    ("POST", "/dashboard/api/models/{version}/rollout"): "manage",
    ("POST", "/dashboard/api/rollouts/{rollout_id}/cancel"): "manage",
}
SCOPE_OF = {"rank": "rank", "events": "events", "report": "analytics:read", "manage": None}
CALLERS = ("no auth", "wrong key", "key without scope", "key with scope", "analyst", "operator", "admin")
ROLE_OF = {"analyst": ANALYSTS, "operator": OPERATORS, "admin": ADMINS}


def expected(guard: str, caller: str) -> str:
    if caller in ("no auth", "wrong key"):
        return "401"
    if caller.startswith("key"):
        return "2xx" if caller == "key with scope" and guard != "manage" else "403"
    if guard in ("rank", "events"):
        return "403"  # serving endpoints are for BFF keys, not people
    if guard == "manage":
        return "2xx" if caller in ("operator", "admin") else "403"
    return "2xx"


@pytest.fixture
def world():
    placement, variants, first = served_world("matrix-banner", experiment="matrix-ab", model=True)
    second = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True,
                                 by="access matrix fixture").model_version
    return {"slug": placement.slug, "variant": variants[0].id, "version": second, "first": first}


def _request(world, method: str, path: str):
    """A well-formed request for the operation, so only the caller decides the answer."""
    from ranking import rollout
    from ranking.models import ModelRollout

    url = path.replace("{slug}", "matrix-ab" if "experiments" in path else world["slug"]) \
        .replace("{version}", world["first"] if path.endswith("/rollout") else world["version"])
    query, body = {}, None
    ramping = ModelRollout.objects.filter(status=ModelRollout.Status.RAMPING)
    if path.endswith("/rollout"):  # no ramp under way, so an allowed caller can start one
        for ramp in ramping:
            rollout.cancel_rollout(ramp)
        body = {"force": True}
    elif path.endswith("/cancel"):  # a ramp under way, so an allowed caller can cancel it
        ramp = ramping.first() or rollout.start_rollout(version=world["first"], force=True)
        url = url.replace("{rollout_id}", str(ramp.id))
    if path.endswith("/rank"):
        body = {"placement": world["slug"], "user": {"id": "u-1", "features": {"age": 30}}, "k": 2}
    elif path.endswith("/events"):
        body = {"events": [{"event_id": uuid.uuid4().hex, "type": "impression", "variant_id": world["variant"],
                            "user_id": "u-1", "placement": world["slug"], "position": 1,
                            "ts": timezone.now().isoformat()}]}
    elif path.endswith("/attribution"):
        query = {"segment": "age", "tag_group": "button_color"}
    elif path.endswith("/ope"):
        query = {"model_version": world["first"]}
    elif path.endswith("/variants"):
        query = {"placement": world["slug"]}
    elif path.endswith("/rollback"):
        body = {"placement": world["slug"]}
    return url, query, body


def _client(caller: str, guard: str, users: dict):
    if caller in ROLE_OF:
        client = Client(raise_request_exception=False)
        client.force_login(users[caller])
        return client
    client = APIClient(raise_request_exception=False)
    if caller == "wrong key":
        client.credentials(HTTP_AUTHORIZATION="Api-Key kal_this-key-was-never-issued")
    elif caller == "key with scope":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_with(*(ALL_SCOPES), name='all')}")
    elif caller == "key without scope":
        others = [s for s in ALL_SCOPES if s != SCOPE_OF[guard]]
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_with(*others, name='others')}")
    return client


def _outcome(status: int) -> str:
    return "2xx" if 200 <= status < 300 else str(status)


def test_every_endpoint_answers_each_caller_as_its_guard_says(world):
    operations = {(method.upper(), path) for path, ops in SchemaGenerator().get_schema(public=True)["paths"].items()
                  for method in ops}
    assert operations == set(GUARDS), f"new or removed endpoints; list them in GUARDS: {operations ^ set(GUARDS)}"
    users = {caller: role_user(role, username=f"matrix-{caller}") for caller, role in ROLE_OF.items()}
    mismatches, table = [], []
    for (method, path), guard in sorted(GUARDS.items()):
        row = []
        for caller in CALLERS:
            url, query, body = _request(world, method, path)
            client = _client(caller, guard, users)
            if method == "GET":
                response = client.get(url, query)
            else:
                response = client.post(url, body, content_type="application/json")
            got, want = _outcome(response.status_code), expected(guard, caller)
            row.append(got)
            if got != want:
                mismatches.append(f"{method} {url} as {caller}: got {response.status_code} want {want} "
                                  f"{response.content[:200]!r}")
        table.append(f"{method:4} {path:45} " + " ".join(f"{c:>5}" for c in row))
    print("\n" + " " * 51 + " ".join(f"{c[:5]:>5}" for c in CALLERS) + "\n" + "\n".join(table))
    assert not mismatches, "\n".join(mismatches)


# Admin: analysts only view (never API keys or users); operators change creative, generation, ranking;
# admins do everything.
OPERATED_APPS = {"creative", "generation", "ranking"}
VIEWED_APPS = {"creative", "generation", "ranking", "analytics"}


def _may_view(role: str, app: str) -> bool:
    return role == ADMINS or app in VIEWED_APPS


def _may_change(role: str, app: str) -> bool:
    return role == ADMINS or (role == OPERATORS and app in OPERATED_APPS)


def test_every_admin_page_follows_the_roles(world):
    superuser_request = RequestFactory().get("/admin/")
    superuser_request.user = type("Super", (), {"is_active": True, "is_staff": True, "is_superuser": True,
                                                "has_perm": lambda *a, **k: True})()
    mismatches, seen = [], 0
    for role in (ANALYSTS, OPERATORS, ADMINS):
        user = role_user(role, username=f"admin-page-{role}")
        client = Client()
        client.force_login(user)
        request = RequestFactory().get("/admin/")
        request.user = user
        for model, model_admin in admin.site._registry.items():
            app, name = model._meta.app_label, model._meta.model_name
            status = client.get(reverse(f"admin:{app}_{name}_changelist")).status_code
            want = 200 if _may_view(role, app) else 403
            if status != want:
                mismatches.append(f"{role} {app}.{name} changelist: got {status} want {want}")
            # Pages the admin itself never offers (e.g. editing logged decisions) stay closed to everyone.
            offered = model_admin.has_change_permission(superuser_request)
            can_change = model_admin.has_change_permission(request)
            if can_change != (offered and _may_change(role, app)):
                mismatches.append(f"{role} {app}.{name}: change allowed={can_change}")
            seen += 1
        add_kit = client.get(reverse("admin:creative_creativekit_add")).status_code
        if add_kit != (200 if _may_change(role, "creative") else 403):
            mismatches.append(f"{role} creative kit add page: {add_kit}")
        keys = client.get(reverse("admin:access_apikey_add")).status_code
        if keys != (200 if role == ADMINS else 403):
            mismatches.append(f"{role} API key add page: {keys}")
    assert seen >= 3 * 15
    assert not mismatches, "\n".join(mismatches)


def test_dashboard_pages_need_a_staff_login():
    anonymous = Client().get(reverse("dashboard:home"))
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    for role in (ANALYSTS, OPERATORS, ADMINS):
        client = Client()
        client.force_login(role_user(role, username=f"dash-{role}"))
        for page in ("home", "experiments", "attribution", "variants", "models"):
            assert client.get(reverse(f"dashboard:{page}")).status_code == 200, (role, page)
