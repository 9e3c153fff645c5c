"""A platform engineer issues API keys to BFF services; only hashes are stored."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from access.models import APIKey
from access.services import api_key_authenticate, api_key_revoke, hash_secret

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash(capsys):
    call_command("create_api_key", "home-bff", "--scopes", "rank,events")
    secret = capsys.readouterr().out.strip()
    key = APIKey.objects.get(name="home-bff")
    assert key.scopes == ["events", "rank"]
    assert key.hashed_key == hash_secret(secret)
    assert secret not in (key.hashed_key, key.prefix)
    assert api_key_authenticate(secret) == key


def test_unknown_scope_is_refused():
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_key", "x", "--scopes", "rank,admin")


def test_missing_invalid_revoked_and_wrong_scope_keys(api_key_factory):
    url = reverse("events")
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.post(url, {"events": []}, format="json").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Api-Key kal_not-a-real-key")
    assert client.post(url, {"events": []}, format="json").status_code == 401

    rank_only = api_key_factory(scopes=["rank"])
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {rank_only.secret}")
    response = client.post(url, {"events": [{}]}, format="json")
    assert response.status_code == 403

    events_key = api_key_factory(scopes=["events"])
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {events_key.secret}")
    assert client.post(url, {"events": [{}]}, format="json").status_code == 202
    api_key_revoke(api_key=events_key.api_key)
    assert client.post(url, {"events": [{}]}, format="json").status_code == 401
