"""A BFF asks which variant to show; the answer follows the contract and every call is logged."""

from __future__ import annotations

import pytest

from ranking import services
from ranking.buckets import ServingMode
from ranking.models import Decision
from tests.factories import PlacementFactory, StyleVariantFactory

from .factories import catalogue

pytestmark = pytest.mark.django_db


def test_default_control_mode_serves_the_control_design_and_logs_the_decision(rank):
    placement, variants = catalogue()

    body = rank(placement.slug, user_id="u-42", features={"age": 34, "gender": "f", "has_credit_card": True},
                k=3, context={"device": "ios"})

    assert set(body) == {"decision_id", "placement", "bucket", "experiment", "model_version", "items"}
    assert body["placement"] == placement.slug and body["bucket"] == "control" and body["experiment"] is None
    assert [it["rank"] for it in body["items"]] == [1, 2, 3]
    first = body["items"][0]
    assert first["variant_id"] == placement.control_variant_id
    assert first["variant_key"] == "red-single-benefit-photo"
    assert first["propensity"] == 1.0
    assert set(first) == {"variant_id", "variant_key", "rank", "score", "propensity", "tags", "image_url",
                          "render", "pinned"}
    assert first["pinned"] is False
    assert first["tags"]["button_color"] == ["red"]
    assert first["render"]["cta"] == "Go"
    decision = Decision.objects.get(decision_id=body["decision_id"])
    assert decision.user_id == "u-42" and decision.bucket == "control"
    assert decision.features == {"age": 34, "gender": "f", "has_credit_card": True}
    assert decision.context == {"device": "ios"}
    assert [it["variant_id"] for it in decision.items] == [it["variant_id"] for it in body["items"]]


def test_control_falls_back_to_the_first_live_variant_when_none_is_set(rank):
    placement = PlacementFactory(slug="no-control")
    first = StyleVariantFactory(placement=placement)
    StyleVariantFactory(placement=placement)

    assert rank(placement.slug)["items"][0]["variant_id"] == first.id


def test_pinned_variants_come_first_and_blocked_ones_never_appear(rank):
    placement, variants = catalogue(default_mode=ServingMode.RANDOM)
    pinned = variants[7]
    pinned.pinned = True
    pinned.save()
    blocked = set()
    for v in variants[10:30]:
        v.blocked = True
        v.save()
        blocked.add(v.id)

    for i in range(40):
        items = rank(placement.slug, user_id=f"u-{i}", k=4)["items"]
        assert items[0]["variant_id"] == pinned.id and items[0]["propensity"] == 1.0
        assert [it["pinned"] for it in items] == [True, False, False, False]  # the answer says which
        assert not blocked & {it["variant_id"] for it in items}


def test_model_bucket_without_a_trained_model_answers_with_the_control_design(rank):
    placement, _ = catalogue(default_mode=ServingMode.MODEL)

    body = rank(placement.slug, features={"age": 25})

    assert body["bucket"] == "control"
    assert body["model_version"] == "fallback:no_model"
    assert body["items"][0]["variant_id"] == placement.control_variant_id
    decision = Decision.objects.get(decision_id=body["decision_id"])
    assert decision.assigned_bucket == "model" and decision.fallback_reason == "no_model"


def test_a_user_keeps_the_same_bucket_for_the_life_of_an_experiment(rank):
    placement, _ = catalogue()
    services.experiment_start(slug="home-ab", placement=placement, buckets="control=0.5,random=0.5")

    seen = {}
    for i in range(30):
        for _ in range(3):
            body = rank(placement.slug, user_id=f"user-{i}")
            assert body["experiment"] == "home-ab"
            seen.setdefault(i, set()).add(body["bucket"])
    assert all(len(buckets) == 1 for buckets in seen.values())
    assert {b for s in seen.values() for b in s} == {"control", "random"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": {"id": "u"}}, "placement"),
        ({"placement": "p"}, "user"),
        ({"placement": "p", "user": {"features": {}}}, "user"),
        ({"placement": "p", "user": {"id": "u", "features": {"age": {"nested": 1}}}}, "user"),
        ({"placement": "p", "user": {"id": "u", "features": ["age"]}}, "user"),
        ({"placement": "p", "user": {"id": "u"}, "k": 0}, "k"),
        ({"placement": "p", "user": {"id": "u"}, "k": "three"}, "k"),
        ({"placement": "p", "user": {"id": "u"}, "context": {"device": [1]}}, "context"),
    ],
)
def test_malformed_bodies_get_400_with_field_messages(rank_client, body, field):
    response = rank_client.post("/api/v1/rank", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_unknown_placement_is_404_and_a_placement_without_live_variants_is_409(rank, rank_client):
    empty = PlacementFactory(slug="empty")
    StyleVariantFactory(placement=empty, status="draft")
    StyleVariantFactory(placement=empty, blocked=True)

    rank("nowhere", expect=404)
    rank(empty.slug, expect=409)


def test_rank_needs_a_key_with_the_rank_scope(api_client_with, client):
    placement, _ = catalogue()
    body = {"placement": placement.slug, "user": {"id": "u"}}

    assert client.post("/api/v1/rank", body, content_type="application/json").status_code == 401
    events_only = api_client_with("events")
    assert events_only.post("/api/v1/rank", body, format="json").status_code == 403


def test_k_larger_than_the_catalogue_returns_every_live_variant_once(rank):
    placement = PlacementFactory(slug="small", default_mode=ServingMode.RANDOM)
    ids = {StyleVariantFactory(placement=placement).id for _ in range(3)}

    items = rank(placement.slug, k=10)["items"]

    assert {it["variant_id"] for it in items} == ids and len(items) == 3


def test_random_bucket_logs_the_exact_per_position_probability(rank):
    placement, variants = catalogue(default_mode=ServingMode.RANDOM)
    n = len(variants)
    first_positions = {}

    for i in range(360):
        items = rank(placement.slug, user_id=f"r{i}", k=3)["items"]
        assert [it["propensity"] for it in items] == pytest.approx([1 / n] * 3)
        assert len({it["variant_id"] for it in items}) == 3
        first_positions[items[0]["variant_id"]] = first_positions.get(items[0]["variant_id"], 0) + 1

    assert len(first_positions) > n * 0.8  # every variant gets its turn at the top
