"""Sample ratio mismatch watch: is each running experiment splitting users as configured?

A split that drifts from its shares (a client that drops one bucket's events, a cache serving one bucket
stale answers, a bot hitting one arm) biases every number the experiment reports, so it is an alarm,
not a footnote in the report. The periodic task counts each running experiment's users per assigned
bucket (decisions, not events: a bucket whose clients lose impressions still shows its users) and keeps
the chi-square p-value in the cache, where /metrics reads it on every scrape without a query.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count

from .models import Decision, Experiment

log = logging.getLogger(__name__)
CACHE_KEY = "kaleido:split-health"
CACHE_TTL_S = 3600  # an alarm older than an hour is not shown: the task stopped running


@dataclass(frozen=True)
class SplitHealth:
    experiment: str
    placement: str
    users: dict[str, int]
    shares: dict[str, float]
    p_value: float | None
    alarm: bool


def check_running_experiments() -> list[SplitHealth]:
    """SRM p-value of every running experiment, stored for /metrics; logs an ERROR for each alarm."""
    from analytics import stats

    out = []
    for experiment in Experiment.objects.filter(status=Experiment.Status.RUNNING).select_related("placement"):
        shares = {b: float(s) for b, s in (experiment.buckets or {}).items() if float(s) > 0}
        counts = dict(Decision.objects.filter(experiment=experiment).values_list("assigned_bucket")
                      .annotate(users=Count("user_id", distinct=True)).values_list("assigned_bucket", "users"))
        users = {b: int(counts.get(b, 0)) for b in shares}
        total = sum(users.values())
        p = None
        if len(shares) > 1 and total >= 100:  # fewer users: chance alone moves the split too much to alarm
            p = float(stats.srm_p_value(np.array(list(users.values()), float), np.array(list(shares.values()))))
        health = SplitHealth(experiment=experiment.slug, placement=experiment.placement.slug, users=users,
                             shares=shares, p_value=p, alarm=p is not None and p < stats.SRM_ALPHA)
        if health.alarm:
            log.error("sample ratio mismatch in experiment %s: users %s for shares %s (p = %.2g)",
                      experiment.slug, users, shares, p)
        out.append(health)
    try:
        cache.set(CACHE_KEY, [asdict(h) for h in out], timeout=CACHE_TTL_S)
    except Exception:  # the cache is away: the next run stores it
        log.warning("could not store the split health", exc_info=True)
    return out


def latest() -> list[dict]:
    """What the last check found (empty when it has not run within the hour)."""
    try:
        return cache.get(CACHE_KEY) or []
    except Exception:
        return []
