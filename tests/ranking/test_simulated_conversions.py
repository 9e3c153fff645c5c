"""The simulated users convert after some clicks, so the demo's CVR is a number to read, not a zero."""

from __future__ import annotations

import pytest

from analytics.models import Event
from ranking import simulator
from ranking.buckets import ServingMode

from .factories import catalogue

pytestmark = pytest.mark.django_db


def test_simulated_clicks_convert_at_the_stated_rate_and_reach_the_event_log():
    placement, _ = catalogue(default_mode=ServingMode.RANDOM)

    report = simulator.simulate(transport=simulator.in_process_transport(), placement=placement.slug,
                                users=simulator.make_users(1500, seed=4, prefix="cvr"), seed=4)

    stats = report.buckets["random"]
    assert 0 < stats.conversions <= stats.clicks
    assert report.as_dict()["buckets"]["random"]["conversions"] == stats.conversions
    assert Event.objects.filter(type="conversion").count() == stats.conversions
    # Binomial with p = CONVERSION_RATE over the clicks, within four standard deviations.
    expected = stats.clicks * simulator.CONVERSION_RATE
    assert abs(stats.conversions - expected) <= 4 * (expected * (1 - simulator.CONVERSION_RATE)) ** 0.5
