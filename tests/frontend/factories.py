"""Traffic for the dashboard tests, written through the same services as live traffic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from analytics.ingestion import record_events
from creative.models import Placement
from ranking.services import rank_variants


def staff_user(username: str, *roles: str, staff: bool = True):
    user = get_user_model().objects.create_user(username, password="a-long-test-password-42", is_staff=staff)
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
    return user


def serve_and_report(placement: Placement, *, users: int, click_every: int = 4, prefix: str = "u",
                     features: dict | None = None, ts: datetime | None = None) -> dict[str, int]:
    """Rank for `users` users, report an impression for each and a click for every `click_every`-th.

    Returns impressions and clicks per served variant key.
    """
    events, counts = [], {}
    when = (ts or datetime.now(UTC)).isoformat()
    for i in range(users):
        user_id = f"{prefix}-{i}"
        result = rank_variants(placement=placement, user_id=user_id, features=features or {"age": 20 + i % 40})
        item = result.items[0]
        base = {"decision_id": result.decision_id, "variant_id": item.variant_id, "user_id": user_id,
                "placement": placement.slug, "position": 1, "ts": when}
        events.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
        seen = counts.setdefault(item.variant_key, {"impressions": 0, "clicks": 0})
        seen["impressions"] += 1
        if i % click_every == 0:
            events.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
            seen["clicks"] += 1
    result = record_events(events)
    assert not result.rejected, result.rejected[:3]
    return counts
