"""The dashboard page: who may open it, and how it finds the built app."""

from __future__ import annotations

import json

import pytest

from analytics.dashboard import views as dashboard_views
from tests.frontend.factories import staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def built_app(tmp_path, monkeypatch):
    """A Vite manifest as `npm run build` writes it."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"src/main.ts": {
        "file": "dashboard/assets/main-abc123.js", "isEntry": True, "css": ["dashboard/assets/main-def456.css"]}}))
    monkeypatch.setattr(dashboard_views, "manifest_path", lambda: manifest)
    return manifest


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_admin_login(client):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/dashboard/"


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login_too(client):
    client.force_login(staff_user("outsider", "analysts", staff=False))

    response = client.get("/dashboard/variants/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_a_reporting_role_are_told_to_ask_for_one(client):
    client.force_login(staff_user("newcomer"))

    response = client.get("/dashboard/")

    assert response.status_code == 403
    assert b"You need a role to read reports" in response.content


def test_an_analyst_gets_the_built_app_with_its_page_and_rights(client, built_app):
    client.force_login(staff_user("ana", "analysts"))

    response = client.get("/dashboard/attribution/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/dashboard/assets/main-abc123.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/dashboard/assets/main-def456.css">' in html
    config = json.loads(html.split('id="kaleido-config" type="application/json">')[1].split("</script>")[0])
    assert config["page"] == "attribution"
    assert config["user"] == {"username": "ana", "canManageModels": False}
    assert config["csrfToken"]


def test_an_operator_may_manage_models(client, built_app):
    client.force_login(staff_user("opal", "operators"))

    html = client.get("/dashboard/models/").content.decode()

    assert '"canManageModels": true' in html


def test_before_the_first_build_the_page_says_how_to_build(client, tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard_views, "manifest_path", lambda: tmp_path / "missing.json")
    client.force_login(staff_user("ana", "analysts"))

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert b"npm run build" in response.content
    assert b'type="module"' not in response.content
