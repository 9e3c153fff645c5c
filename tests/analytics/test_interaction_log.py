"""The interaction log joins each impression with its decision and rewards, and keeps the tags as served."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import interaction_log
from analytics.attribution import attribution_grid
from analytics.ingestion import record_events
from ranking import services
from tests.analytics.factories import event
from tests.factories import DecisionFactory, PlacementFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db


def test_a_served_impression_reads_back_as_bandit_feedback_with_its_reward_and_served_tags():
    placement = PlacementFactory(slug="log-banner")
    variant = StyleVariantFactory(placement=placement, tags={"button_color": ["blue"]})
    placement.control_variant = variant
    placement.save()
    served = services.rank_variants(placement=placement, user_id="u-1", features={"age": 30},
                                    context={"device": "ios"})
    base = {"placement": "log-banner", "variant_id": variant.id, "user_id": "u-1",
            "decision_id": served.decision_id}
    record_events([event(**base), event(type="click", **base), event(type="conversion", **base)])
    variant.tags = {"button_color": ["red"]}  # re-tagged after it was served
    variant.save()

    feedback = interaction_log.bandit_feedback(placement=placement, buckets=[])

    assert feedback.n_rounds == 1 and not feedback.capped
    row = feedback.frame.iloc[0]
    assert row["decision_id"].replace("-", "") == served.decision_id.replace("-", "")
    assert (row["variant_id"], row["position"], row["bucket"]) == (variant.id, 1, "control")
    assert (row["clicked"], row["converted"]) == (1, 1) and row["clicked_at"] >= row["decided_at"]
    assert row["tags"] == {"button_color": ["blue"]} and row["tags_source"] == "served"
    assert feedback.context == [{"age": 30, "ctx.device": "ios"}]
    assert list(feedback.action) == [variant.id] and list(feedback.reward) == [1]
    assert list(feedback.pscore) == [1.0]


def test_a_decision_stored_without_tags_falls_back_to_the_current_tags():
    placement = PlacementFactory(slug="old-banner")
    variant = StyleVariantFactory(placement=placement, tags={"layout": ["grid"]})
    decision = DecisionFactory(placement=placement, items=[{"variant_id": variant.id, "rank": 1, "propensity": 0.5}])
    record_events([event(placement="old-banner", variant_id=variant.id, decision_id=decision.decision_id)])

    frame = interaction_log.impression_frame(placement=placement, buckets=["random"])

    assert list(frame["tags"]) == [{"layout": ["grid"]}] and list(frame["tags_source"]) == ["current"]
    assert list(frame["clicked"]) == [0] and list(frame["propensity"]) == [0.5]


def test_the_window_and_the_buckets_choose_the_impressions_read():
    placement = PlacementFactory(slug="window-banner")
    variant = StyleVariantFactory(placement=placement)
    now = timezone.now()
    for user, hours, bucket in (("old", 50, "random"), ("new", 1, "random"), ("ctl", 1, "control")):
        decision = DecisionFactory(placement=placement, user_id=user, bucket=bucket,
                                   items=[{"variant_id": variant.id, "rank": 1, "propensity": 1.0}])
        record_events([event(placement="window-banner", variant_id=variant.id, user_id=user,
                             decision_id=decision.decision_id, ts=now - timedelta(hours=hours))])

    recent_random = interaction_log.bandit_feedback(placement=placement, buckets=["random"], days=1)
    everything = interaction_log.bandit_feedback(placement=None, buckets=[], until=now)

    assert list(recent_random.frame["user_id"]) == ["new"]
    assert sorted(everything.frame["user_id"]) == ["ctl", "new", "old"]


def test_attribution_groups_impressions_by_the_tags_they_were_served_with():
    placement = PlacementFactory(slug="retag-banner")
    blue, red = (StyleVariantFactory(placement=placement, tags={"button_color": [c]}) for c in ("blue", "red"))
    for i in range(40):
        variant = blue if i % 2 else red
        decision = DecisionFactory(placement=placement, user_id=f"u-{i}", features={"age": 20 + i % 2},
                                   items=[{"variant_id": variant.id, "rank": 1, "propensity": 0.5,
                                           "tags": dict(variant.tags)}])
        record_events([event(placement="retag-banner", variant_id=variant.id, user_id=f"u-{i}",
                             decision_id=decision.decision_id)])
    blue.tags = red.tags = {"button_color": ["green"]}
    blue.save()
    red.save()

    frame = interaction_log.impression_frame(placement=placement)

    assert sorted({t["button_color"][0] for t in frame["tags"]}) == ["blue", "red"]
    grid = attribution_grid(placement=placement, segment="age", tag_group="button_color", frame=frame)
    assert {c["tag_value"] for c in grid["cells"]} == {"blue", "red"}


def test_impressions_count_reads_only_the_decisions_made_after_the_given_time():
    placement = PlacementFactory(slug="count-banner")
    variant = StyleVariantFactory(placement=placement)
    now = timezone.now()
    for user, hours in (("before", 30), ("after-1", 2), ("after-2", 1)):
        decision = DecisionFactory(placement=placement, user_id=user, created_at=now - timedelta(hours=hours),
                                   items=[{"variant_id": variant.id, "rank": 1, "propensity": 1.0}])
        record_events([event(placement="count-banner", variant_id=variant.id, user_id=user,
                             decision_id=decision.decision_id, ts=now - timedelta(hours=hours))])

    assert interaction_log.impressions_count(placement_id=placement.id) == 3
    assert interaction_log.impressions_count(placement_id=placement.id, decided_after=now - timedelta(hours=24)) == 2
