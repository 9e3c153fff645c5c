"""Every command, API and service finds a placement by its slug the same way, and an unknown slug reads the same."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from creative.models import Placement
from creative.selectors import UnknownPlacement, placement_by_slug, placement_by_slug_or_none
from tests.factories import PlacementFactory


@pytest.mark.django_db
def test_a_slug_finds_its_placement_and_an_unknown_one_is_named_in_the_error():
    banner = PlacementFactory(slug="home-banner")

    assert placement_by_slug("home-banner") == banner
    assert placement_by_slug_or_none("home-banner") == banner
    assert placement_by_slug_or_none("nowhere") is None
    with pytest.raises(UnknownPlacement, match="Unknown placement 'nowhere'.") as raised:
        placement_by_slug("nowhere")
    assert raised.value.slug == "nowhere"
    # Code written for the ORM's own error still catches it.
    assert isinstance(raised.value, Placement.DoesNotExist)


@pytest.mark.django_db
def test_an_api_answers_an_unknown_placement_with_a_404_that_names_it(api_client_with):
    PlacementFactory(slug="home-banner")
    client = api_client_with("analytics:read")

    answer = client.get("/api/v1/placements/nowhere/identifiability")

    assert answer.status_code == 404
    assert answer.json() == {"detail": "Unknown placement 'nowhere'."}
    assert client.get("/api/v1/placements/home-banner/identifiability").status_code == 200


@pytest.mark.django_db
def test_commands_refuse_an_unknown_placement_with_the_same_message():
    with pytest.raises(CommandError, match="Unknown placement 'nowhere'."):
        call_command("prune_history", "--placement", "nowhere")
    with pytest.raises(CommandError, match="Unknown placement 'nowhere'."):
        call_command("activate_model", "--rollback", "--placement", "nowhere")
    with pytest.raises(CommandError, match="Unknown placement 'nowhere'."):
        call_command("rollout_model", "status", "nowhere")
