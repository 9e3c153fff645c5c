"""A BFF reports impressions, clicks and conversions; each is stored once and counted exactly."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from analytics.ingestion import record_events, settle_late_events
from analytics.models import DailyRollup, Event, LateEvent, UserDayRollup
from analytics.rollups import refresh_rollups
from tests.analytics.factories import event
from tests.factories import DecisionFactory, ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def placement():
    return PlacementFactory(slug="home-banner")


def test_a_replayed_batch_counts_each_event_once(api_client_with, placement):
    client = api_client_with("events")
    batch = [event(placement="home-banner", user_id=f"u-{i}") for i in range(20)]
    batch.append(dict(batch[0]))  # the same event twice inside the batch

    first = client.post("/api/v1/events", {"events": batch}, format="json")
    replay = client.post("/api/v1/events", {"events": batch}, format="json")

    assert first.status_code == 202
    assert first.json() == {"accepted": 20, "duplicates": 1, "rejected": []}
    assert replay.json() == {"accepted": 0, "duplicates": 21, "rejected": []}
    assert Event.objects.count() == 20


def test_one_bad_event_is_named_and_the_rest_are_stored(api_client_with, placement):
    client = api_client_with("events")
    batch = [event(placement="home-banner") for _ in range(5)]
    batch[2]["type"] = "hover"
    batch[4]["ts"] = "yesterday"

    response = client.post("/api/v1/events", {"events": batch}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [2, 4]
    assert "type" in body["rejected"][0]["error"]
    assert "ts" in body["rejected"][1]["error"]
    assert Event.objects.count() == 3


def test_events_need_the_events_scope_and_at_most_1000_per_request(api_client_with, placement):
    reader = api_client_with("analytics:read")
    assert reader.post("/api/v1/events", {"events": [event(placement="home-banner")]},
                       format="json").status_code == 403
    writer = api_client_with("events")
    too_many = [event(placement="home-banner") for _ in range(1001)]
    response = writer.post("/api/v1/events", {"events": too_many}, format="json")
    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_a_click_before_its_impression_is_kept_and_enriched_from_the_decision(placement):
    experiment = ExperimentFactory(placement=placement)
    decision = DecisionFactory(placement=placement, user_id="u-7", bucket="model", experiment=experiment,
                               items=[{"variant_id": 9, "rank": 1, "score": 0.1, "propensity": 0.8}],
                               features={"age": 22, "gender": "m"})
    now = timezone.now()

    click = record_events([event(placement="home-banner", type="click", variant_id=9, user_id="u-7",
                                 decision_id=decision.decision_id, ts=now)])
    impression = record_events([event(placement="home-banner", variant_id=9, user_id="u-7",
                                      decision_id=decision.decision_id, ts=now - timedelta(seconds=2))])

    assert click.accepted == impression.accepted == 1
    stored = Event.objects.get(type="click")
    assert (stored.bucket, stored.experiment_id, stored.propensity) == ("model", experiment.id, 0.8)
    assert stored.segment_key == "age=18–24|gender=m"


def test_an_event_that_arrives_before_its_decision_is_held_and_counts_once_the_refresh_confirms_it(placement):
    experiment = ExperimentFactory(placement=placement)
    decision_id = uuid.uuid4()
    result = record_events([event(placement="home-banner", variant_id=9, user_id="u-8", decision_id=decision_id)])
    refresh_rollups()

    assert result.accepted == 1
    assert not Event.objects.exists() and not DailyRollup.objects.exists()  # counted nowhere yet
    assert LateEvent.objects.get().decision_id == decision_id

    DecisionFactory(decision_id=decision_id, placement=placement, user_id="u-8", bucket="control",
                    assigned_bucket="model", experiment=experiment, features={"age": 40, "gender": "f"},
                    items=[{"variant_id": 9, "rank": 1, "propensity": 0.25}])
    refresh_rollups()

    stored = Event.objects.get()
    assert (stored.bucket, stored.experiment_id, stored.propensity) == ("model", experiment.id, 0.25)
    assert stored.segment_key == "age=35–44|gender=f"
    assert DailyRollup.objects.get(placement=placement).bucket == "model"
    assert not LateEvent.objects.exists()


def test_events_that_contradict_their_decision_or_name_none_are_rejected_and_their_neighbours_kept(placement):
    other = PlacementFactory(slug="wealth-card")
    decision = DecisionFactory(placement=placement, user_id="u-1",
                               items=[{"variant_id": 9, "rank": 1, "propensity": 0.5},
                                      {"variant_id": 10, "rank": 2, "propensity": 0.5}])
    shown_ = dict(placement="home-banner", user_id="u-1", decision_id=decision.decision_id)
    no_decision = event(placement="home-banner")
    del no_decision["decision_id"]
    batch = [event(variant_id=9, **shown_),
             event(variant_id=11, **shown_),  # not among the decision's items
             event(variant_id=10, **{**shown_, "placement": "wealth-card"}),  # another placement's
             no_decision,
             {**event(placement="home-banner"), "decision_id": None},
             event(type="click", variant_id=10, **shown_)]

    result = record_events(batch)

    assert result.accepted == 2
    errors = {r["index"]: r["error"] for r in result.rejected}
    assert sorted(errors) == [1, 2, 3, 4]
    assert errors[1].startswith("variant_id:") and errors[2].startswith("placement:")
    assert errors[3].startswith("decision_id:") and errors[4].startswith("decision_id:")
    assert sorted(Event.objects.values_list("type", "variant_id")) == [("click", 10), ("impression", 9)]
    assert not Event.objects.filter(placement=other).exists() and not LateEvent.objects.exists()


def test_held_events_their_decision_contradicts_or_that_wait_too_long_are_dropped_and_counted(
        placement, settings, caplog):
    settings.KALEIDO_EVENT_LATE_DECISION_S = 120
    now = timezone.now()
    contradicted, never = uuid.uuid4(), uuid.uuid4()
    forged = [event(placement="home-banner", variant_id=5, decision_id=contradicted, ts=now),
              event(placement="home-banner", type="click", variant_id=5, decision_id=never, ts=now)]
    assert record_events(forged, now=now).accepted == 2
    DecisionFactory(decision_id=contradicted, placement=placement,
                    items=[{"variant_id": 6, "rank": 1, "propensity": 1.0}])

    early = settle_late_events(now=now + timedelta(seconds=60))
    with caplog.at_level(logging.WARNING, logger="analytics.ingestion"):
        late = settle_late_events(now=now + timedelta(seconds=121))

    assert early == {"confirmed": 0, "rejected": 1, "expired": 0, "waiting": 1}
    assert late == {"confirmed": 0, "rejected": 0, "expired": 1, "waiting": 0}
    assert "1 dropped (no decision within the hold)" in caplog.text
    assert not Event.objects.exists() and not LateEvent.objects.exists()
    # A resend of a dropped event is a duplicate: it never counts later.
    assert record_events(forged[1:], now=now).duplicates == 1
    assert not LateEvent.objects.exists()


def test_events_from_outside_the_retention_window_or_far_future_are_rejected(placement):
    now = timezone.now()
    result = record_events([event(placement="home-banner", ts=now - timedelta(days=4000)),
                            event(placement="home-banner", ts=now + timedelta(days=3)),
                            event(placement="nowhere")])
    assert result.accepted == 0
    assert [r["index"] for r in result.rejected] == [0, 1, 2]
    assert "placement" in result.rejected[2]["error"]


def _recount(placement_id):
    """Rollups recomputed the slow way: straight from the raw events, in Python."""
    daily, users = {}, {}
    for e in Event.objects.filter(placement_id=placement_id):
        day = e.ts.astimezone(UTC).date()
        key = (day, e.variant_id, e.bucket, e.experiment_id or 0, e.segment_key)
        cell = daily.setdefault(key, [0, 0, 0])
        cell[["impression", "click", "conversion"].index(e.type)] += 1
        ukey = (day, e.experiment_id or 0, e.bucket, e.user_id, e.segment_key)
        ucell = users.setdefault(ukey, [0, 0, 0])
        ucell[["impression", "click", "conversion"].index(e.type)] += 1
    return daily, users


def test_rollups_equal_a_recount_after_duplicates_late_events_and_early_clicks(placement):
    experiment = ExperimentFactory(placement=placement, buckets={"control": 0.5, "model": 0.5})
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    decisions = [DecisionFactory(placement=placement, user_id=f"u-{i % 7}", bucket=("control", "model")[i % 2],
                                 experiment=experiment, features={"age": 20 + i, "gender": "fm"[i % 2]},
                                 items=[{"variant_id": 1 + i % 3, "rank": 1, "propensity": 1.0}])
                 for i in range(30)]
    batch = []
    for i, d in enumerate(decisions):
        when = today - timedelta(days=i % 3)
        batch.append(event(placement="home-banner", variant_id=1 + i % 3, user_id=d.user_id,
                           decision_id=d.decision_id, ts=when, event_id=f"imp-{i}"))
        if i % 4 == 0:
            batch.append(event(placement="home-banner", type="click", variant_id=1 + i % 3, user_id=d.user_id,
                               decision_id=d.decision_id, ts=when + timedelta(seconds=5), event_id=f"clk-{i}"))
    record_events(batch[:40])
    refresh_rollups()
    record_events(batch)  # replay, with the rest arriving late
    late = [event(placement="home-banner", type="conversion", variant_id=1, user_id=decisions[0].user_id,
                  decision_id=decisions[0].decision_id, ts=today - timedelta(days=2), event_id="late-conv")]
    record_events(late)
    record_events(late)
    refresh_rollups()

    daily, users = _recount(placement.id)
    stored = {(r.day, r.variant_id, r.bucket, r.experiment_id, r.segment_key): [r.impressions, r.clicks, r.conversions]
              for r in DailyRollup.objects.filter(placement=placement)}
    stored_users = {(r.day, r.experiment_id, r.bucket, r.user_id, r.segment_key): [r.impressions, r.clicks,
                                                                                    r.conversions]
                    for r in UserDayRollup.objects.filter(placement=placement)}
    assert stored == daily
    assert stored_users == users
    assert sum(c[0] for c in stored.values()) == 30
    assert sum(c[2] for c in stored.values()) == 1
    # The late conversion counts toward the day it happened, two days ago.
    assert {k[0] for k, c in stored.items() if c[2]} == {(today - timedelta(days=2)).date()}


def test_the_refresh_works_through_the_hold_in_batches_past_events_still_waiting(placement):
    decided = [uuid.uuid4() for _ in range(4)]
    waiting = uuid.uuid4()
    held = [event(placement="home-banner", variant_id=9, decision_id=d) for d in decided[:2]]
    held += [event(placement="home-banner", variant_id=9, decision_id=waiting)]
    held += [event(placement="home-banner", variant_id=9, decision_id=d) for d in decided[2:]]
    assert record_events(held).accepted == 5
    for decision_id in decided:
        DecisionFactory(decision_id=decision_id, placement=placement,
                        items=[{"variant_id": 9, "rank": 1, "propensity": 1.0}])

    counts = settle_late_events(batch=2)

    assert counts == {"confirmed": 4, "rejected": 0, "expired": 0, "waiting": 1}
    assert Event.objects.count() == 4
    assert list(LateEvent.objects.values_list("decision_id", flat=True)) == [waiting]


def test_a_client_rerank_is_stored_with_its_probability_and_bad_rerank_fields_are_rejected_alone(placement):
    decision = DecisionFactory(placement=placement, user_id="u-1", bucket="model",
                               items=[{"variant_id": 9, "rank": 1, "propensity": 0.7},
                                      {"variant_id": 10, "rank": 2, "propensity": 0.2}])
    shown_ = dict(placement="home-banner", user_id="u-1", decision_id=decision.decision_id)
    moved = {**event(variant_id=10, position=1, **shown_), "rerank": "fatigue", "server_position": 2}
    randomised = {**event(variant_id=9, position=2, **shown_), "rerank": "fatigue", "server_position": 1,
                  "rerank_probability": 0.25}
    batch = [moved, randomised,
             {**event(variant_id=9, **shown_), "rerank": "shuffle"},
             {**event(variant_id=9, **shown_), "rerank": "fatigue", "rerank_probability": 0},
             {**event(variant_id=9, **shown_), "rerank": "fatigue", "rerank_probability": 1.5},
             {**event(variant_id=9, **shown_), "rerank_probability": 0.5},
             {**event(variant_id=9, **shown_), "rerank": "fatigue", "server_position": "2"},
             {**event(variant_id=9, **shown_), "rerank": "fatigue", "rerank_probability": True}]

    result = record_events(batch)

    assert result.accepted == 2
    errors = {r["index"]: r["error"].split(":")[0] for r in result.rejected}
    assert errors == {2: "rerank", 3: "rerank_probability", 4: "rerank_probability", 5: "rerank_probability",
                      6: "server_position", 7: "rerank_probability"}
    stored = {v: (pos, rerank, p, prop) for v, pos, rerank, p, prop in Event.objects.values_list(
        "variant_id", "position", "rerank", "rerank_probability", "propensity")}
    # The event keeps its decision's propensity (rollups count it); the interaction log pairs it with the slot.
    assert stored == {10: (1, "fatigue", 1.0, 0.2), 9: (2, "fatigue", 0.25, 0.7)}


def test_a_reranked_impression_that_waits_for_its_decision_keeps_its_rerank(placement):
    decision_id = uuid.uuid4()
    record_events([{**event(placement="home-banner", variant_id=9, position=2, decision_id=decision_id),
                    "rerank": "fatigue", "server_position": 1}])
    assert LateEvent.objects.get().rerank == "fatigue"

    DecisionFactory(decision_id=decision_id, placement=placement, user_id="u-1", bucket="model",
                    items=[{"variant_id": 9, "rank": 1, "propensity": 0.6},
                           {"variant_id": 8, "rank": 2, "propensity": 0.3}])
    settle_late_events()

    stored = Event.objects.get()
    assert (stored.position, stored.rerank, stored.rerank_probability, stored.propensity) == (2, "fatigue", 1.0, 0.6)
