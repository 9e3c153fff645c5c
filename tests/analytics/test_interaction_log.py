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



def _reranked_slate(placement, variants, *, user_id: str, fatigued: int):
    """A model-bucket decision as serving logs it (exact propensities from the serving policy's own code,
    Thompson draws so they differ by slot), then the impressions the SDK sends after its fatigue re-rank
    moved variant `fatigued` (an index) behind the others, and a click on the variant shown first."""
    import numpy as np

    from ranking import policy as P

    heads = np.array([[4.0, 2.0, 3.0, 1.0], [4.0, 3.0, 2.0, 1.0], [2.0, 1.0, 3.0, 4.0], [4.0, 2.0, 3.0, 1.0]])
    policy = P.SlatePolicy(scores=np.array([0.05, 0.02, 0.03, 0.01]), epsilon=0.2,
                           new_mask=np.zeros(4, dtype=bool), new_share=0.0, heads=heads)
    server_slate = [0, 2, 1, 3]
    logged = P.propensities(policy, np.array(server_slate))
    decision = DecisionFactory(
        placement=placement, user_id=user_id, bucket="model", assigned_bucket="model", candidates=4,
        model_version="7", features={"age": 41},
        items=[{"variant_id": variants[i].id, "rank": rank, "score": 0.01, "propensity": float(p),
                "tags": variants[i].tags} for rank, (i, p) in enumerate(zip(server_slate, logged, strict=True), 1)])
    shown = [i for i in server_slate if i != fatigued] + [fatigued]  # the SDK's stable demotion
    wire = []
    for position, i in enumerate(shown, 1):
        impression = event(placement=placement.slug, variant_id=variants[i].id, user_id=user_id,
                           decision_id=decision.decision_id, position=position)
        server_rank = server_slate.index(i) + 1
        if server_rank != position:  # what the SDK adds to impressions of a re-ranked decision
            impression |= {"rerank": "fatigue", "server_position": server_rank}
        wire.append(impression)
    wire.append(event(placement=placement.slug, variant_id=variants[shown[0]].id, user_id=user_id, type="click",
                      decision_id=decision.decision_id, position=1))
    return policy, {variants[i].id: float(p) for i, p in zip(server_slate, logged, strict=True)}, wire


def test_a_fatigue_reranked_slate_reaches_training_ope_and_attribution_with_shown_slots_and_exact_propensities(
        api_client_with, settings):
    import numpy as np

    from analytics import importance
    from analytics.attribution import attribution_grid
    from analytics.models import Event
    from ranking import policy as P
    from ranking.training import collect_rows, ips_weight

    placement = PlacementFactory(slug="tired-banner")
    variants = [StyleVariantFactory(placement=placement, tags={"button_color": [color]})
                for color in ("red", "blue", "gold", "green")]
    v0, v1, v2, v3 = (v.id for v in variants)
    # "mid": the variant at rank 2 is fatigued (shown v0 v1 v3 v2); "top": the one at rank 1 (shown v2 v1 v3 v0).
    policy, logged, events = _reranked_slate(placement, variants, user_id="mid", fatigued=2)
    _, _, more = _reranked_slate(placement, variants, user_id="top", fatigued=0)

    answer = api_client_with("events").post("/api/v1/events", {"events": events + more}, format="json")
    assert answer.status_code == 202 and answer.json()["accepted"] == 10, answer.json()
    stored = dict(Event.objects.filter(type="impression", user_id="mid").values_list("variant_id", "rerank"))
    assert stored == {v0: "", v1: "fatigue", v2: "fatigue", v3: "fatigue"}

    # The log: the shown slot, the policy's slot and its exact propensity; no propensity for a slot the
    # policy never chose.
    frame = interaction_log.bandit_feedback(placement=placement, buckets=["model"]).frame
    mid, top = (frame[frame["user_id"] == user].set_index("variant_id") for user in ("mid", "top"))
    assert mid.loc[[v0, v1, v3, v2], "position"].tolist() == [1, 2, 3, 4]
    assert top.loc[[v2, v1, v3, v0], "position"].tolist() == [1, 2, 3, 4]
    for rows in (mid, top):
        assert rows.loc[[v0, v2, v1, v3], "server_position"].tolist() == [1, 2, 3, 4]
        assert rows.loc[[v0, v1, v2, v3], "served_propensity"].tolist() == [logged[v] for v in (v0, v1, v2, v3)]
        assert (rows["rerank_probability"] == 1.0).all()
    assert mid.loc[v0, "propensity"] == logged[v0] and mid.loc[v0, "rerank"] == ""
    assert mid.loc[[v1, v2, v3], "propensity"].isna().all() and (mid.loc[[v1, v2, v3], "rerank"] == "fatigue").all()
    assert top["propensity"].isna().all() and (top["rerank"] == "fatigue").all()
    assert (mid.loc[v0, "clicked"], top.loc[v2, "clicked"], frame["clicked"].sum()) == (1, 1, 2)

    # Training: the position effect is learnt from the slot the user saw, the weight from the policy's choice.
    data = collect_rows(placement_ids=[placement.id], click_window_s=0)
    assert len(data.labels) == 8
    clip = settings.KALEIDO_IPS_CLIP
    weight = {v: ips_weight(bucket="model", propensity=logged[v], candidates=4, clip=clip) for v in logged}
    rows = sorted(zip(data.variant_ids.tolist(), data.positions.tolist(), data.weights.tolist(),
                      data.labels.tolist(), strict=True))
    assert rows == sorted([(v0, 1, weight[v0], 1), (v1, 2, weight[v1], 0), (v3, 3, weight[v3], 0), (v2, 4, weight[v2], 0),
                           (v2, 1, weight[v2], 1), (v1, 2, weight[v1], 0), (v3, 3, weight[v3], 0), (v0, 4, weight[v0], 0)])

    # Off-policy evaluation of a rank-1 choice: whether it reads (position, propensity) or the policy's own
    # action (server_position, served_propensity), each rank-1 row carries P(that variant at slot 1) exactly.
    # "top"'s v2 was shown first but the policy put it at rank 2: its rank-2 propensity must not be read
    # as a rank-1 one.
    first = P.first_position_probabilities(policy)
    assert not np.isclose(logged[v2], first[2])
    by_shown = frame[(frame["position"] == 1) & (frame["propensity"].astype(float) > 0)]
    assert by_shown["user_id"].tolist() == ["mid"] and by_shown["variant_id"].tolist() == [v0]
    assert np.isclose(float(by_shown["propensity"].iloc[0]), first[0])
    by_action = frame[frame["server_position"] == 1]
    assert sorted(by_action["user_id"]) == ["mid", "top"] and set(by_action["variant_id"]) == {v0}
    assert np.allclose(by_action["served_propensity"].astype(float), first[0])

    # Attribution: a row enters a cell weighed by the policy's exact propensity for its variant, or not at all.
    grid = attribution_grid(placement=placement, segment="age", tag_group="button_color", buckets=["model"],
                            min_support=1)
    assert grid["impressions"] == 8 and grid["cells"]
    color = {"red": v0, "blue": v1, "gold": v2, "green": v3}
    for cell in grid["cells"]:
        each = importance.uniform_weight(propensity=logged[color[cell["tag_value"]]], candidates=4)
        assert 1 <= cell["impressions"] <= 2
        assert np.isclose(cell["weighted_impressions"], each * cell["impressions"]), (cell, each)
