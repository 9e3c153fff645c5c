"""Guessing admin passwords stops after a few tries: the login form answers 429 for a while."""

import pytest
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def operator(django_user_model, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user("ops", "ops@example.com", PASSWORD, is_staff=True)


def _login(username, password, address="203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/admin/login/?next=/admin/",
                                            {"username": username, "password": password})


def test_wrong_passwords_are_throttled_then_even_the_right_one_waits(operator):
    for _ in range(3):
        response = _login("ops", "guess")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()

    refused = _login("ops", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in Client().session  # nobody was logged in

    assert _login("ops", PASSWORD, address="198.51.100.9").status_code == 302  # another address is not held

    cache.clear()  # the window has passed
    assert _login("ops", PASSWORD).status_code == 302


def test_a_success_clears_the_count_and_spraying_many_names_from_one_address_is_held(operator):
    _login("ops", "guess")
    _login("ops", "guess")
    assert _login("ops", PASSWORD).status_code == 302
    assert _login("ops", "guess").status_code == 200  # counting starts again after a success

    for name in ("alice", "bob"):  # failures 4 and 5 from this address (a success does not clear those)
        assert _login(name, "guess").status_code == 200
    assert _login("carol", "guess").status_code == 429  # whatever the name
    assert _login("carol", "guess", address="198.51.100.9").status_code == 200


def test_the_login_page_itself_still_renders(operator):
    response = Client().get("/admin/login/")
    assert response.status_code == 200 and b'name="password"' in response.content
