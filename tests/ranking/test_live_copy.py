"""A variant's copy states a live number only when Kaleido's own data (or the BFF's context) backs it, and
the decision keeps what was claimed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.ingestion import record_events
from counters.services import conversions_in_last_day
from creative.composition import render_spec_for
from creative.models import ServingMode
from ranking import decision_log, live_copy
from ranking.models import Decision
from tests.analytics.factories import event, shown
from tests.factories import CopyVariantFactory, CreativeKitFactory, LayoutTemplateFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db

PROOF_ZH = "今日已有{conversions_24h|floor=1000}人选择黄金储蓄 || 大家都在选的黄金储蓄"
SAVERS_EN = "{context.savers|floor=500} savers joined this week || Savers like you choose Gold Savings"


def composed(kit, headline, subline, language):
    copy = CopyVariantFactory(kit=kit, headline=headline, subline=subline, cta="Join", language=language)
    variant = StyleVariantFactory(placement=kit.placement, kit=kit, copy=copy, layout=LayoutTemplateFactory(kit=kit))
    variant.render_spec = render_spec_for(variant)
    variant.save()
    return variant


@pytest.fixture
def proof_variant():
    kit = CreativeKitFactory(placement__slug="proof-banner", placement__default_mode=ServingMode.CONTROL)
    variant = composed(kit, PROOF_ZH, "看看大家为什么选择黄金储蓄", "zh")
    kit.placement.control_variant = variant
    kit.placement.save()
    return variant


def convert(variant, n, *, hours_ago=0.0):
    """n users convert on the variant, `hours_ago` before now (ingested as a BFF reports them)."""
    decision = shown(placement=variant.placement.slug, variant_id=variant.id)
    when = timezone.now() - timedelta(hours=hours_ago)
    result = record_events([event(placement=variant.placement.slug, type="conversion", variant_id=variant.id,
                                  decision_id=decision, ts=when, user_id=f"u-{i}") for i in range(n)])
    assert result.accepted == n
    live_copy.forget_counts()  # as a process sees them once its cached count expires


def test_social_proof_shows_only_once_enough_conversions_exist(rank, proof_variant):
    convert(proof_variant, 999)
    below = rank("proof-banner", user_id="u-a")["items"][0]
    assert below["render"]["headline"] == "大家都在选的黄金储蓄"
    assert below["render"]["filled"] == {}
    assert "copy" not in Decision.objects.get(decision_id=rank("proof-banner")["decision_id"]).items[0]

    convert(proof_variant, 201)  # 1,200 in the last day: past the floor of 1,000
    body = rank("proof-banner", user_id="u-b")
    item = body["items"][0]
    assert item["render"]["headline"] == "今日已有1200人选择黄金储蓄"
    assert item["render"]["filled"]["headline"]["shown"] == {"conversions_24h": "1200"}
    stored = Decision.objects.get(decision_id=body["decision_id"]).items[0]
    assert stored["copy"] == {"headline": {"text": "今日已有1200人选择黄金储蓄", "shown": {"conversions_24h": "1200"},
                                           "values": {"conversions_24h": 1200}}}


def test_a_count_is_rounded_down_per_language_and_only_covers_the_last_day(rank, proof_variant):
    convert(proof_variant, 12_345)
    convert(proof_variant, 5_000, hours_ago=30)  # older than a day: not claimed
    assert conversions_in_last_day(proof_variant.placement_id, now=timezone.now()) == 12_345

    item = rank("proof-banner")["items"][0]
    assert item["render"]["headline"] == "今日已有1.2万人选择黄金储蓄"  # 12,345 → 1.2万, never rounded up
    assert item["render"]["dynamic"]["headline"]["template"].startswith("今日已有{conversions_24h")


def test_the_count_is_read_from_the_counters_at_most_every_cache_period(rank, proof_variant):
    convert(proof_variant, 1_500)
    rank("proof-banner")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert rank("proof-banner")["items"][0]["render"]["headline"] == "今日已有1500人选择黄金储蓄"
    read = [q["sql"] for q in queries.captured_queries if "counters_" in q["sql"] or "analytics_event" in q["sql"]]
    assert read == []  # the cached count served them all; never a count of events
    assert len(queries.captured_queries) == 5  # one decision insert per call


@pytest.mark.parametrize(("savers", "headline"), [
    (640, "640 savers joined this week"),
    ("1,234", "Savers like you choose Gold Savings"),  # not a plain number: no claim
    ("1234", "1,200 savers joined this week"),  # digits sent as text are a number
    (499, "Savers like you choose Gold Savings"),  # under the floor
    (-640, "Savers like you choose Gold Savings"),
    ("lots", "Savers like you choose Gold Savings"),
    (True, "Savers like you choose Gold Savings"),
    (10 ** 30, "Savers like you choose Gold Savings"),  # beyond any real count
    (1e300, "Savers like you choose Gold Savings"),
])
def test_context_values_fill_the_copy_and_bad_ones_fall_back(rank, savers, headline):
    kit = CreativeKitFactory(placement__slug="savers-card")
    composed(kit, SAVERS_EN, "Grow your savings", "en")

    body = rank("savers-card", context={"savers": savers, "device": "ios"})

    assert body["items"][0]["render"]["headline"] == headline
    stored = Decision.objects.get(decision_id=body["decision_id"])
    claimed = stored.items[0].get("copy", {})
    if headline.startswith("Savers like"):
        assert claimed == {} and body["items"][0]["render"]["filled"] == {}
    else:
        assert claimed["headline"]["text"] == headline
        assert claimed["headline"]["shown"]["context.savers"] in headline


def test_a_missing_context_value_falls_back_and_plain_copy_is_served_as_stored(rank):
    kit = CreativeKitFactory(placement__slug="savers-card", placement__default_mode=ServingMode.RANDOM)
    composed(kit, SAVERS_EN, "Grow your savings", "en")
    composed(kit, "Gold Savings Plan: 4.5% a year", "No fees", "en")

    items = rank("savers-card", k=2)["items"]

    by_headline = {it["render"]["headline"]: it["render"] for it in items}
    assert set(by_headline) == {"Savers like you choose Gold Savings", "Gold Savings Plan: 4.5% a year"}
    assert "filled" not in by_headline["Gold Savings Plan: 4.5% a year"]


def test_a_journaled_decision_keeps_the_claim_once_flushed(rank, journal_mode):
    kit = CreativeKitFactory(placement__slug="savers-card")
    composed(kit, SAVERS_EN, "Grow your savings", "en")

    body = rank("savers-card", context={"savers": 12_345})

    assert body["items"][0]["render"]["headline"] == "12,000 savers joined this week"
    assert not Decision.objects.filter(decision_id=body["decision_id"]).exists()  # in the journal only
    assert decision_log.flush_journal() == 1
    claimed = Decision.objects.get(decision_id=body["decision_id"]).items[0]["copy"]
    assert claimed == {"headline": {"text": "12,000 savers joined this week", "shown": {"context.savers": "12,000"},
                                    "values": {"context.savers": 12345}}}


def test_the_retention_job_drops_conversion_hours_no_claim_reads_any_more():
    from analytics.rollups import apply_retention
    from counters.models import HourlyConversions
    from counters.services import add_conversions, hour_of

    placement = CreativeKitFactory().placement
    now = timezone.now()
    add_conversions({(placement.id, hour_of(now - timedelta(days=5))): 700,
                     (placement.id, hour_of(now - timedelta(hours=2))): 1_200})

    result = apply_retention()

    assert result["deleted_conversion_hours"] == 1
    assert HourlyConversions.objects.filter(placement_id=placement.id).count() == 1
    assert conversions_in_last_day(placement.id, now=now) == 1_200
