"""Factories and payload builders for analytics tests."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone

from tests.factories import DecisionFactory
from tests.support.traffic import LoggedImpression, write_traffic


def event(*, placement: str, type: str = "impression", variant_id: int = 1, user_id: str = "u-1",  # noqa: A002
          decision_id: uuid.UUID | str | None = None, ts: datetime | str | None = None,
          event_id: str | None = None, position: int = 1) -> dict:
    """One event as a client sends it after a /rank call.

    Without `decision_id`, the decision it reports on is stored first (one that showed `variant_id` to
    `user_id` on the placement), as /rank would have; for an unknown placement slug it names a decision
    that does not exist.
    """
    when = ts or timezone.now()
    if decision_id is None:
        decision_id = shown(placement=placement, variant_id=variant_id, user_id=user_id) or uuid.uuid4()
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "type": type,
        "decision_id": str(decision_id) if decision_id else None,
        "variant_id": variant_id,
        "user_id": user_id,
        "placement": placement,
        "position": position,
        "ts": when if isinstance(when, str) else when.isoformat().replace("+00:00", "Z"),
    }


def shown(*, placement: str, variant_id: int, user_id: str = "u-1", **fields) -> uuid.UUID | None:
    """Store a decision that showed `variant_id` on the placement (by slug); its id, or None when the
    placement does not exist."""
    from creative.models import Placement

    found = Placement.objects.filter(slug=placement).first()
    if found is None:
        return None
    fields.setdefault("items", [{"variant_id": variant_id, "rank": 1, "score": None, "propensity": 1.0}])
    return DecisionFactory(placement=found, user_id=user_id, **fields).decision_id


def log_traffic(*, placement, experiment=None, users: dict[str, int], ctr: dict[str, float],
                when: datetime | None = None, impressions_per_user: int = 3, seed: int = 0,
                user_prefix: str = "u", features=None, variant_ids=(1, 2, 3), cvr: float = 0.2) -> None:
    """Decisions and events as live traffic would leave them: per bucket, users with a few impressions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    when = when or timezone.now()
    shown = []
    for bucket, count in users.items():
        for u in range(count):
            user_id = f"{user_prefix}-{bucket}-{u}"
            user_features = features(u) if features else {"age": 18 + u % 50, "gender": "fm"[u % 2]}
            user_ctr = min(1.0, rng.beta(2, 2 * (1 - ctr[bucket]) / ctr[bucket]))
            for i in range(impressions_per_user):
                clicked = bool(rng.random() < user_ctr)
                shown.append(LoggedImpression(
                    placement=placement, user_id=user_id, variant_id=variant_ids[(u + i) % len(variant_ids)],
                    created_at=when, bucket=bucket, candidates=len(variant_ids), features=user_features,
                    experiment=experiment, clicked=clicked, converted=clicked and bool(rng.random() < cvr)))
    write_traffic(shown)


SIM_TAG_GROUPS = {
    "button_color": ["red", "blue", "gold", "green"],
    "layout": ["single", "grid", "list"],
    "font_scale": ["large", "regular"],
    "appeal": ["plain", "benefit", "social_proof"],
    "language": ["en", "zh"],
    "visual_style": ["photo", "flat", "3d"],
    "dominant_color": ["red", "blue", "gold"],
    "text_position": ["left", "right", "bottom"],
}


def simulated_catalogue(placement):
    """Live variants: the full factorial of SIM_TAG_GROUPS (3,888 variants), as crossing independent
    materials gives, so no tag group is correlated with another and marginal CTRs are not confounded."""
    import itertools

    from creative.models import StyleVariant, VariantStatus

    groups = list(SIM_TAG_GROUPS)
    variants = [
        StyleVariant(placement=placement, variant_key=f"sim-{i}", status=VariantStatus.LIVE,
                     tags={g: [value] for g, value in zip(groups, combo, strict=True)})
        for i, combo in enumerate(itertools.product(*(SIM_TAG_GROUPS[g] for g in groups)))
    ]
    StyleVariant.objects.bulk_create(variants, batch_size=1000)
    return list(StyleVariant.objects.filter(placement=placement).order_by("id"))


def log_simulated_random_bucket(*, placement, variants, users: int, seed: int = 0, when=None,
                                bucket: str = "random", policy=None) -> dict:
    """Random-bucket traffic whose clicks follow the ranking simulator's ground truth.

    Writes decisions and events as live traffic would (without the HTTP round trip, for speed).
    `policy(user, variants) -> (index, propensity)` replaces the uniform choice for other buckets.
    Returns {"impressions", "clicks", "expected_ctr"}.
    """
    import numpy as np

    from ranking.simulator import click_probability, make_users

    rng = np.random.default_rng(seed)
    when = when or timezone.now()
    shown, expected = [], 0.0
    for user in make_users(users, seed=seed, prefix=f"p{placement.id}"):
        if policy is None:
            index, propensity = int(rng.integers(len(variants))), 1 / len(variants)
        else:
            index, propensity = policy(user, variants)
        variant = variants[index]
        p = click_probability(user, variant.tags, position=1, variant_key=variant.variant_key)
        expected += p
        shown.append(LoggedImpression(
            placement=placement, user_id=user.user_id, variant_id=variant.id, created_at=when, bucket=bucket,
            propensity=propensity, candidates=len(variants), features=user.features, context=user.context,
            clicked=bool(rng.random() < p)))
    write_traffic(shown)
    return {"impressions": users, "clicks": sum(s.clicked for s in shown), "expected_ctr": expected / users}
