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


def test_a_key_revoked_by_another_process_stops_working_here_within_the_local_cache_time(
        api_key_factory, settings):
    import time

    from django.core.cache import cache
    from django.utils import timezone

    settings.API_KEY_LOCAL_CACHE_S = 0.05
    issued = api_key_factory(scopes=["rank"])
    assert api_key_authenticate(issued.secret) is not None  # now held in this process's memory

    # What api_key_revoke does in another web process: the row and the shared cache change, not our memory.
    APIKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())
    cache.delete(f"apikey:{issued.api_key.hashed_key}")
    time.sleep(0.1)

    assert api_key_authenticate(issued.secret) is None


def test_an_expired_key_is_refused_even_while_this_process_holds_a_copy(api_key_factory):
    from datetime import timedelta

    from django.utils import timezone

    issued = api_key_factory(scopes=["rank"])
    key = api_key_authenticate(issued.secret)
    key.expires_at = timezone.now() - timedelta(seconds=1)  # the cached copy itself says it has expired

    assert api_key_authenticate(issued.secret) is None


def test_scopes_changed_in_the_admin_apply_to_the_next_call(api_key_factory, admin_client):
    from rest_framework.test import APIClient

    issued = api_key_factory(scopes=["rank", "events"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    assert client.post(reverse("events"), {"events": [{}]}, format="json").status_code == 202

    change = reverse("admin:access_apikey_change", args=[issued.api_key.pk])
    response = admin_client.post(change, {"name": issued.api_key.name, "scopes": '["rank"]',
                                          "expires_at_0": "", "expires_at_1": "", "rate_limit_per_minute": ""})
    assert response.status_code == 302, response.content[:2000]

    assert client.post(reverse("events"), {"events": [{}]}, format="json").status_code == 403
