"""The on-call engineer's Prometheus scrapes /metrics: after known traffic, each counter moved by exactly
what was sent, and nobody outside the allowed networks can read it."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", **extra)
    assert answer.status_code == 200, answer.content
    samples = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_rank_and_event_counters_move_by_exactly_what_was_sent(client, api_client_with):
    placement, _ = catalogue(slug="metrics-banner")
    bff = api_client_with("rank", "events")
    before = scrape(client)

    served = [bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": f"u-{i}"}}, format="json")
              for i in range(3)]
    unknown = bff.post("/api/v1/rank", {"placement": "no-such-slot", "user": {"id": "u-1"}}, format="json")
    bad = bff.post("/api/v1/rank", {"placement": placement.slug, "user": {}}, format="json")
    decision = served[0].json()
    now = timezone.now().isoformat()
    event = {"type": "impression", "decision_id": decision["decision_id"], "user_id": "u-0",
             "variant_id": decision["items"][0]["variant_id"], "placement": placement.slug, "ts": now}
    first = {**event, "event_id": uuid.uuid4().hex}
    events = bff.post("/api/v1/events", {"events": [first, first, {**event, "event_id": uuid.uuid4().hex,
                                                                    "type": "click"},
                                                    {**event, "event_id": uuid.uuid4().hex, "position": 0}]},
                      format="json")
    after = scrape(client)

    assert [a.status_code for a in served] == [200] * 3 and unknown.status_code == 404 and bad.status_code == 400
    assert events.status_code == 202 and events.json()["accepted"] == 2
    bucket = decision["bucket"]
    assert moved(before, after, "kaleido_rank_seconds_count", placement=placement.slug, bucket=bucket) == 3
    assert moved(before, after, "kaleido_rank_served_total", placement=placement.slug, bucket=bucket,
                 model_version=decision["model_version"]) == 3
    assert moved(before, after, "kaleido_rank_refused_total", status="404") == 1
    assert moved(before, after, "kaleido_rank_refused_total", status="400") == 1
    assert moved(before, after, "kaleido_events_total", outcome="accepted") == 2
    assert moved(before, after, "kaleido_events_total", outcome="duplicate") == 1
    assert moved(before, after, "kaleido_events_total", outcome="rejected") == 1
    assert moved(before, after, "kaleido_events_rejected_total", reason="position") == 1
    assert ("kaleido_generation_jobs", ()) not in after  # jobs are labelled by state; none exist yet
    assert after[("kaleido_rollup_pending", ())] >= 1


def test_a_rank_call_that_falls_back_is_counted_with_its_reason(client, api_client_with):
    placement, _ = catalogue(slug="fallback-banner", default_mode="model")  # no model trained: control
    bff = api_client_with("rank")
    before = scrape(client)

    answer = bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": "u-1"}}, format="json").json()

    after = scrape(client)
    reason = answer["model_version"].removeprefix("fallback:")
    assert answer["model_version"].startswith("fallback:")
    assert moved(before, after, "kaleido_rank_fallbacks_total", placement=placement.slug, reason=reason) == 1


def test_metrics_are_refused_outside_the_allowed_networks_unless_the_token_is_sent(client, settings):
    settings.KALEIDO_METRICS_ALLOWED_NETWORKS = ["10.9.0.0/16"]
    settings.KALEIDO_METRICS_TOKEN = "s3cret-scrape-token"

    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.9.3.4").status_code == 200
    assert scrape(client, REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")


def test_a_refusal_by_the_rate_limit_is_counted(client, api_client_with):
    placement, _ = catalogue(slug="limited-banner")
    bff = api_client_with("rank")
    bff.api_key.rate_limit_per_minute = 1
    bff.api_key.save()
    before = scrape(client)

    statuses = [bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": "u-1"}}, format="json")
                .status_code for _ in range(3)]

    after = scrape(client)
    assert statuses == [200, 429, 429]
    assert moved(before, after, "kaleido_rate_limited_total", limit="api_key") == 2


def test_journaled_flushed_and_quarantined_decisions_are_counted(client, api_client_with, journal_mode):
    from ranking import decision_log

    placement, _ = catalogue(slug="journal-metrics-banner")
    bff = api_client_with("rank")
    before = scrape(client)

    for i in range(4):
        bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": f"u-{i}"}}, format="json")
    decision_log.journal().append({"decision_id": "not-a-uuid", "placement_id": placement.id})
    decision_log.flush_journal()
    decision_log.close_journal()

    after = scrape(client)
    assert moved(before, after, "kaleido_decisions_journaled_total") == 5
    assert moved(before, after, "kaleido_decisions_flushed_total") == 4
    assert moved(before, after, "kaleido_decisions_quarantined_total") == 1


def test_a_lopsided_experiment_split_raises_the_srm_alarm(client):
    from datetime import timedelta

    from ranking import services
    from ranking.models import Decision
    from ranking.split_health import check_running_experiments

    placement, variants = catalogue(slug="srm-banner")
    fair = services.experiment_start(slug="srm-fair", placement=placement, buckets="control=0.5,model=0.5")
    now = timezone.now()

    def users(experiment, bucket, n, prefix):
        Decision.objects.bulk_create(
            Decision(placement=experiment.placement, user_id=f"{prefix}-{bucket}-{i}", bucket=bucket,
                     assigned_bucket=bucket, experiment=experiment, created_at=now - timedelta(minutes=1),
                     items=[{"variant_id": variants[0].id, "rank": 1, "propensity": 1.0}])
            for i in range(n))

    users(fair, "control", 260, "a")
    users(fair, "model", 240, "a")
    [health] = check_running_experiments()
    assert health.alarm is False and health.users == {"control": 260, "model": 240}
    assert scrape(client)[("kaleido_experiment_srm_alarm", (("experiment", "srm-fair"),))] == 0.0

    users(fair, "control", 300, "b")  # one bucket's users arrive twice as often: the split is broken
    [health] = check_running_experiments()
    samples = scrape(client)
    assert health.alarm is True and health.p_value < 0.001
    assert samples[("kaleido_experiment_srm_alarm", (("experiment", "srm-fair"),))] == 1.0
    assert samples[("kaleido_experiment_srm_p_value", (("experiment", "srm-fair"),))] == pytest.approx(health.p_value)


def test_generation_speed_and_ramps_are_scraped(client):
    from datetime import timedelta

    from generation.models import GenerationJob
    from ranking import rollout
    from ranking.models import ModelVersion
    from tests.factories import CreativeKitFactory

    kit = CreativeKitFactory()
    finished = timezone.now() - timedelta(minutes=5)
    for seconds, images in ((10, 5), (30, 5)):  # 2 s and 6 s per image
        GenerationJob.objects.create(kit=kit, backend="procedural", images_per_mix=images,
                                     status=GenerationJob.Status.SUCCEEDED,
                                     started_at=finished - timedelta(seconds=seconds), finished_at=finished)
    candidate = ModelVersion.objects.create(version="ramp-metrics-1", placement=kit.placement,
                                            artefact="missing.json", artefact_sha256="0" * 64)
    rollout.start_rollout(version=candidate.version, steps=[0.1, 0.4], force=True)

    samples = scrape(client)

    assert samples[("kaleido_generation_seconds_per_image", (("backend", "procedural"),))] == pytest.approx(4.0)
    assert samples[("kaleido_model_rollout_share",
                    (("candidate", "ramp-metrics-1"), ("placement", kit.placement.slug)))] == pytest.approx(0.1)
    assert samples[("kaleido_model_rollouts_rolled_back_last_day", ())] == 0.0
