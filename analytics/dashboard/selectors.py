"""Read-only views of data for the analysts' dashboard that the report APIs do not give.

Counts come from analytics' daily rollups (refreshed first, so they include the latest events);
model actions go through ranking's services. Nothing here writes domain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, Sum

from creative.models import Placement, StyleVariant, TagGroup
from ranking import services as ranking
from ranking.services import ExperimentInfo, ModelUnavailable, calibration_curve, score_variants

from .. import interaction_log
from ..models import DailyRollup
from ..rollups import refresh_for_read

# Decisions sampled for a live calibration curve; enough for stable deciles, cheap to read.
CALIBRATION_SAMPLE = 20_000
CALIBRATION_BINS = 10


def _ctr(clicks: int, impressions: int) -> float | None:
    return clicks / impressions if impressions else None


def dashboard_meta() -> dict[str, Any]:
    """Everything the dashboard's pickers need: placements, experiments, tag groups, segment features."""
    placements = [
        {"slug": p.slug, "name": p.name, "surface": p.surface, "width": p.width, "height": p.height,
         "default_mode": p.default_mode}
        for p in Placement.objects.order_by("slug")
    ]
    experiments = [
        {"slug": e.slug, "placement": e.placement, "status": e.status, "buckets": e.buckets,
         "started_at": e.started_at, "stopped_at": e.stopped_at}
        for e in ranking.experiments()
    ]
    tag_groups = [
        {"name": g.name, "layer": g.layer, "values": [v.value for v in g.values.all()]}
        for g in TagGroup.objects.prefetch_related("values").order_by("layer", "name")
    ]
    # Feature names as BFFs send them, from a recent sample of decisions.
    return {"placements": placements, "experiments": experiments, "tag_groups": tag_groups,
            "segment_features": interaction_log.recent_feature_names(limit=500)}


def experiment_daily(*, experiment: ExperimentInfo) -> list[dict[str, Any]]:
    """Impressions, clicks and CTR per day and bucket of one experiment, oldest day first."""
    refresh_for_read(placement_id=experiment.placement_id)
    rows = (DailyRollup.objects.filter(placement_id=experiment.placement_id, experiment_id=experiment.id)
            .exclude(bucket="")
            .values("day", "bucket")
            .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"))
            .order_by("day", "bucket"))
    return [{"day": r["day"].isoformat(), "bucket": r["bucket"], "impressions": r["impressions"],
             "clicks": r["clicks"], "ctr": _ctr(r["clicks"], r["impressions"])} for r in rows]


@dataclass
class GalleryVariant:
    id: int  # noqa: A003 - the wire name
    variant_key: str
    status: str
    pinned: bool
    blocked: bool
    is_control: bool
    tags: dict[str, list[str]]
    headline: str
    subline: str
    cta: str
    language: str
    image_url: str
    impressions: int = 0
    clicks: int = 0
    ctr: float | None = None
    render: dict[str, Any] = field(default_factory=dict)


def variant_gallery(*, placement: Placement, status: str = "", tag: str = "", query: str = "") -> list[dict[str, Any]]:
    """A placement's variants with their tags and observed CTR (all buckets), best CTR first.

    `tag` filters on "group=value"; `query` matches the key or the copy (case-insensitive).
    """
    refresh_for_read(placement_id=placement.pk)
    counts = {
        r["variant_id"]: (r["impressions"], r["clicks"])
        for r in DailyRollup.objects.filter(placement=placement).values("variant_id")
        .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"))
    }
    variants = StyleVariant.objects.filter(placement=placement).select_related("copy").order_by("id")
    if status:
        variants = variants.filter(status=status)
    group, _, value = tag.partition("=")
    needle = query.strip().lower()
    result = []
    for v in variants:
        if tag and value not in (v.tags or {}).get(group, []):
            continue
        spec = v.render_spec or {}
        headline = spec.get("headline") or (v.copy.headline if v.copy else "")
        if needle and needle not in f"{v.variant_key} {headline} {spec.get('subline', '')}".lower():
            continue
        impressions, clicks = counts.get(v.pk, (0, 0))
        result.append(GalleryVariant(
            id=v.pk, variant_key=v.variant_key, status=v.status, pinned=v.pinned, blocked=v.blocked,
            is_control=v.pk == placement.control_variant_id, tags=v.tags or {}, headline=headline,
            subline=spec.get("subline") or (v.copy.subline if v.copy else ""),
            cta=spec.get("cta") or (v.copy.cta if v.copy else ""),
            language=spec.get("language") or (v.copy.language if v.copy else ""),
            image_url=v.image_url, impressions=impressions, clicks=clicks, ctr=_ctr(clicks, impressions),
            render=spec,
        ))
    # Best observed CTR first; variants without impressions last, in creation order.
    result.sort(key=lambda g: (g.ctr is None, -(g.ctr or 0.0)))
    return [asdict(g) for g in result]


def model_versions(*, placement: Placement | None = None) -> list[dict[str, Any]]:
    """Registry entries, newest first, each with its live calibration curve; for a placement, its
    dedicated models and the general ones."""
    return [
        {"version": mv.version, "placement": mv.placement, "scope": mv.scope,
         "algo": mv.algo, "rows": mv.rows, "positive_rate": mv.positive_rate, "auc": mv.auc, "logloss": mv.logloss,
         "calibration_error": mv.calibration_error, "train_seconds": mv.train_seconds, "is_active": mv.is_active,
         "activated_at": mv.activated_at, "created_at": mv.created_at, "data_from": mv.data_from,
         "data_to": mv.data_to, "holdout_calibration": mv.holdout_calibration,
         "live_calibration": _live_calibration(mv)}
        for mv in ranking.model_versions(placement=placement)
    ]


def live_calibration(*, version: str, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Predicted vs observed CTR of a model's served impressions, in equal-count bins of predicted score.

    Each impression is compared with the model's click probability **at the position it was shown**:
    the score a decision stores is the position-1 probability the ranking used, and comparing it with
    clicks at every position would read position bias as miscalibration. The impressions are the most
    recent `CALIBRATION_SAMPLE` the model served in the model bucket during its latest stint, scored
    again with the user's features, the tags as served and the position; empty when the model never
    served or its artefact cannot be read.
    """
    mv = ranking.model_version_or_none(version)
    return _live_calibration(mv, bins) if mv is not None else []


def _live_calibration(mv: ranking.ModelVersionInfo, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    version = mv.version
    window = ranking.serving_window(mv)
    if window is None:
        return []
    since, until = window
    feedback = interaction_log.bandit_feedback(
        placement_ids=[mv.placement_id] if mv.placement_id else None, buckets=("model",), since=since, until=until,
        limit=CALIBRATION_SAMPLE * 2)
    frame = feedback.frame
    served = (frame["model_version"] == version).to_numpy(bool) if len(frame) else np.zeros(0, bool)
    if not served.any():
        return []
    rows = frame[served].head(CALIBRATION_SAMPLE)
    contexts = [c for c, keep in zip(feedback.context, served, strict=True) if keep][:CALIBRATION_SAMPLE]
    variants = [StyleVariant(id=int(v), tags=tags or {}) for v, tags in zip(rows["variant_id"], rows["tags"],
                                                                           strict=True)]
    try:
        predicted = score_variants(model_version=version, user_features=contexts, variants=variants,
                                   positions=rows["position"].to_numpy(dtype=float))
    except ModelUnavailable:
        return []
    return calibration_curve(np.asarray(predicted, dtype=float), rows["clicked"].to_numpy(dtype=float), bins)


def variant_counts_by_status(*, placement: Placement) -> dict[str, int]:
    rows = (StyleVariant.objects.filter(placement=placement).order_by().values("status")
            .annotate(n=Count("id")).values_list("status", "n"))
    return dict(rows)
