"""A platform engineer limits a BFF's key to its own placements: other placements answer 403 on rank and
are rejected event by event."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from access.models import APIKey
from analytics.models import Event
from tests.analytics.factories import event
from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def home_only_client(capsys):
    catalogue("home-banner")
    catalogue("wealth-card")
    call_command("create_api_key", "home-bff", "--scopes", "rank,events", "--placements", "home-banner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {capsys.readouterr().out.strip()}")
    return client


def _rank(client, placement):
    return client.post("/api/v1/rank", {"placement": placement, "user": {"id": "u-1"}}, format="json")


def test_a_key_limited_to_a_placement_ranks_it_and_is_refused_any_other(home_only_client):
    assert APIKey.objects.get(name="home-bff").placements == ["home-banner"]
    assert _rank(home_only_client, "home-banner").status_code == 200
    refused = _rank(home_only_client, "wealth-card")
    assert refused.status_code == 403
    assert "wealth-card" in refused.json()["detail"]


def test_events_for_another_placement_are_rejected_one_by_one(home_only_client):
    batch = [event(placement="home-banner", variant_id=1), event(placement="wealth-card", variant_id=1),
             event(placement="home-banner", type="click", variant_id=1)]

    body = home_only_client.post("/api/v1/events", {"events": batch}, format="json").json()

    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1]
    assert "wealth-card" in body["rejected"][0]["error"]
    assert set(Event.objects.values_list("placement__slug", flat=True)) == {"home-banner"}


def test_a_key_without_placements_serves_every_placement(api_client_with):
    catalogue("wealth-card")
    assert _rank(api_client_with("rank"), "wealth-card").status_code == 200


def test_an_unknown_placement_is_refused_when_the_key_is_made():
    with pytest.raises(CommandError, match="Unknown placement"):
        call_command("create_api_key", "x", "--scopes", "rank", "--placements", "home-banner,nowhere")
    assert not APIKey.objects.exists()
