"""A web process reuses its PostgreSQL connection across requests without pinging it every time."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections, connections

connection = connections["default"]  # the wrapper itself, not the proxy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pings(monkeypatch):
    """Count the health-check pings (is_usable still runs for real)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    calls = []
    real = connection.is_usable

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counting)
    # What a web server does around each request (the test client leaves these out).
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    yield calls
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)


def _request(sql: str = "SELECT 1") -> None:
    request_started.send(sender=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        request_finished.send(sender=None)


def test_back_to_back_requests_skip_the_ping_and_an_idle_connection_is_checked(pings, settings):
    assert type(connection).__module__ == "kaleido.postgresql.base"
    settings.DB_HEALTH_CHECK_GRACE_S = 60
    _request()  # a connection of unknown health: checked or freshly opened
    before = len(pings)

    _request()
    _request()
    assert len(pings) == before  # each ended cleanly a moment ago

    settings.DB_HEALTH_CHECK_GRACE_S = 0  # as if the connection had sat idle past the grace period
    _request()
    _request()
    assert len(pings) == before + 2


def test_a_connection_that_saw_a_database_error_is_checked_before_reuse(pings, settings):
    settings.DB_HEALTH_CHECK_GRACE_S = 60
    _request()
    before = len(pings)

    with pytest.raises(OperationalError):
        # A server-side cancel: an OperationalError, like a dropped connection, not a client mistake.
        _request("SET statement_timeout = 1; SELECT pg_sleep(0.05)")

    assert len(pings) == before + 1  # checked as the failed request ended, despite the grace period
    _request("SET statement_timeout = 0")  # and the checked connection serves the next request
