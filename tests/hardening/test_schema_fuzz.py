"""Every endpoint in the project's own OpenAPI schema, fed generated input: never a 5xx, and every 4xx
says what was wrong in `detail` or `errors`.

The schema is read from /api/schema/ through the WSGI app, the way a client would read it. Each case is
sent as generated and, where the operation names a placement, experiment or model version, once more
with a name that exists, so the fuzzing reaches past the 404s into the real validation and services.

Then the bodies an attacker sends rank and events: generated bodies with NUL characters and lone
surrogates planted in their strings and keys, wrapped in thousands of levels of nesting, or padded past
the size limit. None may answer 5xx, and, with the decision journal on, no decision that got past
validation may be one the database then refuses (quarantined).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.roles import ADMINS
from ranking import decision_log

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


HOSTILE_PATHS = ("/api/v1/rank", "/api/v1/events")
UNSTORABLE = ("\x00", "a\x00b", "\ud800", "x\udfffy", "\x00\ud83d")




def _plant(value, data, planted: list):
    """The value with unstorable characters planted in some of its strings and keys (drawn by hypothesis)."""
    if isinstance(value, str):
        if data.draw(st.booleans(), label="plant here"):
            bad = data.draw(st.sampled_from(UNSTORABLE), label="what")
            at = data.draw(st.integers(0, len(value)), label="where")
            planted.append(bad)
            return value[:at] + bad + value[at:]
        return value
    if isinstance(value, list):
        return [_plant(item, data, planted) for item in value]
    if isinstance(value, dict):
        return {_plant(k, data, planted): _plant(v, data, planted) for k, v in value.items()}
    return value


def _hostile_raw(kind: str, body, data) -> bytes:
    text = json.dumps(body)
    if kind == "deep":
        depth = data.draw(st.sampled_from([21, 1_000, 20_000, 200_000]), label="depth")
        opener, closer = data.draw(st.sampled_from([("[", "]"), ('{"a":', "}")]), label="container")
        return (opener * depth + text + closer * depth).encode()
    pad = "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    return json.dumps({**body, "pad": pad} if isinstance(body, dict) else [body, pad]).encode()


def _check_raw(path: str, kind: str, raw: bytes, response) -> None:
    sent = f"POST {path} {kind} body of {len(raw)} bytes: {raw[:300]!r}"
    assert response.status_code < 500, f"{sent}\n→ {response.status_code} {response.content[:1500]!r}"
    if kind != "unstorable":
        assert response.status_code in (400, 413), f"{sent}\n→ {response.status_code} {response.content[:500]!r}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and (body.get("detail") or body.get("errors")), f"{sent}\n→ {body}"


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@given(data=st.data())
@settings(max_examples=MAX_EXAMPLES * 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_rank_and_events_never_fail_on_unstorable_strings_deep_nesting_or_huge_bodies(path, data, world, journal_mode):
    case = data.draw(schema[path]["POST"].as_strategy(), label="case")
    _with_known_names(case, world["known"])
    kind = data.draw(st.sampled_from(["unstorable", "unstorable", "deep", "huge"]), label="kind")
    quarantined_before = decision_log.quarantined_total
    if kind == "unstorable":  # sent as JSON escapes (\u0000, \ud800): how a client can send a lone surrogate
        raw = json.dumps(_plant(case.body, data, [])).encode()
    else:
        raw = _hostile_raw(kind, case.body, data)
    response = Client().post(path, data=raw, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Api-Key {world['key']}")
    _check_raw(path, kind, raw, response)
    decision_log.flush_journal()
    assert decision_log.quarantined_total == quarantined_before, \
        "a decision passed validation and the database then refused it"
