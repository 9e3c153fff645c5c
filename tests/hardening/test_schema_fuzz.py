"""Every endpoint in the project's own OpenAPI schema, fed generated input: never a 5xx, and every 4xx
says what was wrong in `detail` or `errors`.

The schema is read from /api/schema/ through the WSGI app, the way a client would read it. Each case is
sent as generated and, where the operation names a placement, experiment or model version, once more
with a name that exists, so the fuzzing reaches past the 404s into the real validation and services.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from access.roles import ADMINS

from .factories import ALL_SCOPES, key_with, role_user, served_world

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=False)]

MAX_EXAMPLES = 12


# Read once at collection; /api/schema/ needs no database. (Eager, not a lazy fixture schema: the lazy
# loader relies on pytest internals that newer pytest versions removed.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Cases go through the WSGI app, whose request signals would close the test's database connection
    (and its transaction) after each call; Django's own test client unhooks them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, client):
    """A placement with live variants, a running experiment and an active model; an all-scopes key and an
    admin's session (for the staff-only model actions) with its CSRF token."""
    placement, _, version = served_world("fuzz-banner", experiment="fuzz-ab", model=True)
    admin = role_user(ADMINS, username="fuzz-admin")
    client.force_login(admin)
    csrf = _get_new_csrf_string()
    return {
        "known": {"slug": {"/api/v1/experiments/{slug}/report": "fuzz-ab",
                           "/dashboard/api/experiments/{slug}/daily": "fuzz-ab"},
                  "placement": placement.slug, "version": version},
        "key": key_with(*ALL_SCOPES, name="fuzz all scopes"),
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        "csrf": csrf,
    }


def _with_known_names(case, known: dict) -> bool:
    """Point the case at objects that exist; False when the operation names none."""
    changed = False
    params = case.path_parameters or {}
    if "slug" in params:
        params["slug"] = known["slug"].get(case.operation.path, known["placement"])
        changed = True
    if "version" in params:
        params["version"] = known["version"]
        changed = True
    if isinstance(case.query, dict) and "placement" in case.query:
        case.query["placement"] = known["placement"]
        changed = True
    if isinstance(case.body, dict) and "placement" in case.body:
        case.body["placement"] = known["placement"]
        changed = True
    return changed


def _check(case, response) -> None:
    sent = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
    assert response.status_code < 500, f"{sent}\n→ {response.status_code} {response.text[:1500]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            body = None
        assert isinstance(body, dict) and (body.get("detail") or body.get("errors")), \
            f"{sent}\n→ {response.status_code} without a readable message: {response.text[:500]}"


@schema.parametrize()
@schema.given(known_names=st.booleans())
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_every_client_error_explains_itself(case, known_names, world):
    if known_names and not _with_known_names(case, world["known"]):
        return
    headers = {"Authorization": f"Api-Key {world['key']}"}
    if case.method.upper() != "GET":
        headers["X-CSRFToken"] = world["csrf"]
    _check(case, case.call(headers=headers, cookies=world["cookies"]))
