"""Prometheus metrics at `/metrics`: what the web processes and workers count, and a few numbers read
from the database when scraped.

Counted in process (prometheus-client): rank latency by placement and bucket, rank calls by placement,
bucket and model version served, fallbacks by reason, events accepted / duplicate / rejected (by the
field that was wrong), rate-limit refusals by limit, decisions journaled / flushed / quarantined and
the journal's flush lag. Read at scrape time (`StateCollector`): generation jobs by state, Celery
queue depth per queue (Redis brokers), the placement-days whose rollup waits for a refresh, and events held
waiting for their decision.

Under gunicorn each worker process counts on its own; set `PROMETHEUS_MULTIPROC_DIR` to an empty folder
(the same for every process of the host, emptied at deploy) and `/metrics` adds them up, as
prometheus-client's multiprocess mode does. Without it a scrape sees the answering process only.

Labels hold only what operators create (placement slugs, bucket names, model versions, reasons from a
fixed set): never a user id, a client-chosen string or an API key.

Access: `/metrics` answers clients in `KALEIDO_METRICS_ALLOWED_NETWORKS` (default loopback only) or
carrying `Authorization: Bearer <KALEIDO_METRICS_TOKEN>` when that is set; anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

RANK_SECONDS = Histogram("kaleido_rank_seconds", "Time to answer a rank call (served calls only).",
                         ["placement", "bucket"], buckets=_LATENCY_BUCKETS)
RANK_SERVED = Counter("kaleido_rank_served", "Rank calls answered, by the bucket and model version served.",
                      ["placement", "bucket", "model_version"])
RANK_FALLBACKS = Counter("kaleido_rank_fallbacks", "Rank calls that fell back to the control design.",
                         ["placement", "reason"])
RANK_REFUSED = Counter("kaleido_rank_refused", "Rank calls answered with an error, by status code.", ["status"])
EVENTS = Counter("kaleido_events", "Events received, by outcome (accepted, duplicate, rejected).", ["outcome"])
EVENTS_REJECTED = Counter("kaleido_events_rejected", "Events rejected, by the field that was wrong.", ["reason"])
RATE_LIMITED = Counter("kaleido_rate_limited", "Requests refused by a rate limit.", ["limit"])
DECISIONS_JOURNALED = Counter("kaleido_decisions_journaled", "Decisions appended to the decision journal.")
DECISIONS_FLUSHED = Counter("kaleido_decisions_flushed", "Journaled decisions sent to the database.")
DECISIONS_QUARANTINED = Counter("kaleido_decisions_quarantined",
                                "Journal lines the database refused, moved to quarantine/.")
JOURNAL_FLUSH_LAG = Gauge("kaleido_decision_journal_flush_lag_seconds",
                          "Seconds since this process's journal last flushed successfully while lines waited.",
                          multiprocess_mode="max")


_REASON_FIELDS = ("event_id", "type", "decision_id", "variant_id", "user_id", "placement", "position", "ts")


def rejection_reason(error: str) -> str:
    """The bounded label for an event rejection message: the field it names, else `other`."""
    head = error.split(":", 1)[0].strip()
    return head if head in _REASON_FIELDS else "other"


def count_events(result: Any) -> None:
    """Count one ingestion result (analytics.ingestion.IngestResult)."""
    if result.accepted:
        EVENTS.labels("accepted").inc(result.accepted)
    if result.duplicates:
        EVENTS.labels("duplicate").inc(result.duplicates)
    if result.rejected:
        EVENTS.labels("rejected").inc(len(result.rejected))
        for item in result.rejected:
            EVENTS_REJECTED.labels(rejection_reason(str(item.get("error", "")))).inc()


def observe_rank(result: Any, seconds: float) -> None:
    """Count one served rank call (ranking.serving.RankResult)."""
    RANK_SECONDS.labels(result.placement, result.bucket).observe(seconds)
    RANK_SERVED.labels(result.placement, result.bucket, result.model_version).inc()
    if result.fallback_reason:
        RANK_FALLBACKS.labels(result.placement, result.fallback_reason.split(":", 1)[0][:40]).inc()


# --- read when scraped ----------------------------------------------------------------------------------------

class StateCollector:
    """Numbers that live in the database or the broker, read once per scrape (a few small queries)."""

    def collect(self):
        yield from _safely(_generation_jobs)
        yield from _safely(_queue_depth)
        yield from _safely(_rollup_age)
        yield from _safely(_late_events)
        yield from _safely(_generation_speed)
        yield from _safely(_rollouts)
        yield from _safely(_split_health)

    def describe(self):
        return []


def _safely(read):
    try:
        yield from read()
    except Exception as exc:  # a scrape never fails because one source is away
        log.warning("metrics: %s unavailable (%s)", read.__name__.lstrip("_"), type(exc).__name__)


def _generation_jobs():
    from django.db.models import Count

    from generation.models import GenerationJob

    family = GaugeMetricFamily("kaleido_generation_jobs", "Generation jobs by state.", labels=["state"])
    for row in GenerationJob.objects.values("status").annotate(n=Count("id")):
        family.add_metric([row["status"]], row["n"])
    yield family


def _queue_depth():
    from kaleido.queues import CPU_QUEUE, GPU_QUEUE

    family = GaugeMetricFamily("kaleido_celery_queue_depth", "Tasks waiting in each Celery queue (Redis brokers).",
                               labels=["queue"])
    broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if broker.startswith(("redis://", "rediss://")):  # eager tasks (no broker) have no queue to measure
        import redis

        client = redis.Redis.from_url(broker, socket_timeout=0.5, socket_connect_timeout=0.5)
        for queue in (GPU_QUEUE, CPU_QUEUE):
            family.add_metric([queue], client.llen(queue))
    yield family


def _rollup_age():
    from analytics.models import RollupDirty

    family = GaugeMetricFamily("kaleido_rollup_pending", "Placement-days whose rollup waits for a refresh.")
    family.add_metric([], RollupDirty.objects.values("placement_id", "day").distinct().count())
    yield family


def _late_events():
    from analytics import models as analytics_models

    late = getattr(analytics_models, "LateEvent", None)
    if late is None:
        return
    family = GaugeMetricFamily("kaleido_events_waiting_for_decision",
                               "Events held until their decision is stored (counted nowhere meanwhile).")
    family.add_metric([], late.objects.count())
    yield family


def _generation_speed():
    from datetime import timedelta

    from django.utils import timezone

    from generation.models import GenerationJob

    family = GaugeMetricFamily("kaleido_generation_seconds_per_image",
                               "Mean seconds per image of the generation jobs finished in the last 24 hours.",
                               labels=["backend"])
    since = timezone.now() - timedelta(hours=24)
    seconds: dict[str, list[float]] = {}
    for job in GenerationJob.objects.filter(status=GenerationJob.Status.SUCCEEDED, finished_at__gte=since,
                                            started_at__isnull=False).order_by("-finished_at")[:500]:
        per_image = (job.finished_at - job.started_at).total_seconds() / max(job.total_images, 1)
        seconds.setdefault(job.backend, []).append(per_image)
    for backend, values in sorted(seconds.items()):
        family.add_metric([backend], sum(values) / len(values))
    yield family


def _rollouts():
    from datetime import timedelta

    from django.utils import timezone

    from ranking.models import ModelRollout

    share = GaugeMetricFamily("kaleido_model_rollout_share",
                              "Share of the users a ramp serves its candidate to (a model, or new variants).",
                              labels=["placement", "candidate"])
    for ramp in ModelRollout.objects.filter(status=ModelRollout.Status.RAMPING).select_related(
            "placement", "candidate"):
        what = ramp.candidate.version if ramp.candidate_id else f"{len(ramp.variant_ids)} new variants"
        share.add_metric([ramp.placement.slug, what], ramp.share)
    yield share
    rolled_back = GaugeMetricFamily("kaleido_model_rollouts_rolled_back_last_day",
                                    "Ramps a guardrail rolled back in the last 24 hours.")
    rolled_back.add_metric([], ModelRollout.objects.filter(
        status=ModelRollout.Status.ROLLED_BACK, finished_at__gte=timezone.now() - timedelta(hours=24)).count())
    yield rolled_back


def _split_health():
    from ranking.split_health import latest

    p_values = GaugeMetricFamily("kaleido_experiment_srm_p_value",
                                 "Sample-ratio chi-square p-value of each running experiment (last check).",
                                 labels=["experiment"])
    alarms = GaugeMetricFamily("kaleido_experiment_srm_alarm",
                               "1 when a running experiment's users split unlike its shares (p < 0.001).",
                               labels=["experiment"])
    for health in latest():
        if health.get("p_value") is not None:
            p_values.add_metric([health["experiment"]], health["p_value"])
        alarms.add_metric([health["experiment"]], 1.0 if health.get("alarm") else 0.0)
    yield p_values
    yield alarms


_state_collector = StateCollector()


def scrape() -> bytes:
    """The exposition text: every process's counters (multiprocess mode) or this one's, then the state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_state_collector)
        return generate_latest(registry)
    state = CollectorRegistry(auto_describe=False)
    state.register(_state_collector)
    return generate_latest(REGISTRY) + generate_latest(state)


# --- the endpoint -------------------------------------------------------------------------------------------

def allowed(request: HttpRequest) -> bool:
    token = settings.KALEIDO_METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.KALEIDO_METRICS_ALLOWED_NETWORKS)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden: /metrics answers the networks in KALEIDO_METRICS_ALLOWED_NETWORKS "
                            "or a bearer token (KALEIDO_METRICS_TOKEN).\n", status=403, content_type="text/plain")
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
