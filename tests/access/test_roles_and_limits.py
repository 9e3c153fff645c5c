"""Roles decide what a logged-in person may do; each API key has a rate limit."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from access.roles import can_operate, can_read_reports, sync_role_permissions

pytestmark = pytest.mark.django_db


def _user(django_user_model, role=None, **extra):
    user = django_user_model.objects.create_user(f"user-{role}", password="pw-long-enough-123", is_staff=True, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_roles_exist_after_migrate_with_their_permissions():
    sync_role_permissions()
    operators = Group.objects.get(name="operators")
    analysts = Group.objects.get(name="analysts")
    assert operators.permissions.filter(codename="change_stylevariant").exists()
    assert analysts.permissions.filter(codename="view_stylevariant").exists()
    assert not analysts.permissions.exclude(codename__startswith="view_").exists()
    assert Group.objects.get(name="admins").permissions.filter(codename="add_apikey").exists()


def test_role_helpers(django_user_model):
    analyst, operator = _user(django_user_model, "analysts"), _user(django_user_model, "operators")
    nobody = _user(django_user_model)
    assert can_read_reports(analyst) and not can_operate(analyst)
    assert can_read_reports(operator) and can_operate(operator)
    assert not can_read_reports(nobody) and not can_operate(nobody)


def test_analyst_can_view_variants_in_the_admin_but_not_change_them(client, django_user_model):
    sync_role_permissions()
    client.force_login(_user(django_user_model, "analysts"))
    assert client.get(reverse("admin:creative_stylevariant_changelist")).status_code == 200
    assert client.get(reverse("admin:creative_creativekit_add")).status_code == 403
    assert client.get(reverse("admin:access_apikey_changelist")).status_code == 403


def test_key_over_its_rate_limit_gets_429_with_retry_after(api_key_factory):
    issued = api_key_factory(scopes=["events"])
    issued.api_key.rate_limit_per_minute = 3
    issued.api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    codes = [client.post(reverse("events"), {"events": [{}]}, format="json") for _ in range(4)]
    assert [r.status_code for r in codes] == [202, 202, 202, 429]
    assert int(codes[-1]["Retry-After"]) > 0
    other = api_key_factory(scopes=["events"], name="other bff")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {other.secret}")
    assert client.post(reverse("events"), {"events": [{}]}, format="json").status_code == 202


def test_operators_get_permissions_of_every_app_after_migrate():
    # the test database was built by migrate: roles were synced after the last app's permissions existed
    operators = Group.objects.get(name="operators")
    for codename in ["change_stylevariant", "add_generationjob", "change_experiment"]:
        assert operators.permissions.filter(codename=codename).exists(), codename


@pytest.mark.redis
def test_the_limit_is_shared_through_redis_and_counted_in_one_round_trip(api_key_factory, settings):
    import uuid

    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/14", socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/14", "KEY_PREFIX": uuid.uuid4().hex}}
    from django.core.cache import cache

    from access.throttling import _redis_client, count_request

    issued = api_key_factory(scopes=["events"])
    issued.api_key.rate_limit_per_minute = 2
    issued.api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    codes = [client.post(reverse("events"), {"events": [{}]}, format="json").status_code for _ in range(3)]
    assert codes == [202, 202, 429]

    # The counter lives in Redis with an expiry, where every web process sees it.
    window_key = f"probe:{uuid.uuid4().hex}"
    assert _redis_client(window_key) is not None  # the pipelined path, not add + incr
    assert [count_request(window_key) for _ in range(3)] == [1, 2, 3]
    raw = cache._cache.get_client(window_key)
    assert 0 < raw.ttl(cache.make_and_validate_key(window_key)) <= 65
