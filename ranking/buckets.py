"""Bucket assignment: a stable hash of (experiment salt, user id) mapped onto the bucket shares.

This is the front door of ranking's serving vocabulary: the buckets (ServingMode), the model bucket's
exploration policies and their defaults. They are defined in kaleido.serving_modes only because creative's
Placement stores them and creative imports no other product app; every other module reads them here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from kaleido.serving_modes import (  # noqa: F401 - ranking's vocabulary, offered here
    DEFAULT_EXPLORATION_EPSILON,
    DEFAULT_NEW_VARIANT_IMPRESSIONS,
    ExplorationPolicy,
    ServingMode,
)

# Fixed order: a user's slot on [0, 1) never depends on dict order.
BUCKETS: tuple[str, ...] = tuple(ServingMode.values)  # ("control", "random", "model")


def unit_hash(salt: str, user_id: str) -> float:
    """A number in [0, 1) that depends only on (salt, user id)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_bucket(*, salt: str, user_id: str, shares: Mapping[str, float]) -> str:
    point = unit_hash(salt, user_id)
    cumulative = 0.0
    last = None
    for bucket in BUCKETS:
        share = float(shares.get(bucket, 0.0))
        if share <= 0:
            continue
        cumulative += share
        last = bucket
        if point < cumulative:
            return bucket
    return last or "control"  # rounding: shares summing to 0.999… still land somewhere


def parse_buckets(text: str | Mapping[str, float]) -> dict[str, float]:
    """'control=0.2,random=0.2,model=0.6' (or a mapping) → validated shares that sum to 1."""
    raw: dict[str, Any]  # shares as given: numbers, or text to parse
    if isinstance(text, Mapping):
        raw = {str(k): v for k, v in text.items()}
    else:
        raw = {}
        for part in str(text).split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise ValidationError({"buckets": f"'{part.strip()}' is not NAME=SHARE."})
            raw[name.strip()] = value.strip()
    shares: dict[str, float] = {}
    for name, value in raw.items():
        if name not in BUCKETS:
            raise ValidationError({"buckets": f"Unknown bucket '{name}' (allowed: {', '.join(BUCKETS)})."})
        try:
            share = float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError({"buckets": f"Share of '{name}' must be a number."}) from exc
        if not math.isfinite(share) or share < 0:
            raise ValidationError({"buckets": f"Share of '{name}' must be a non-negative number."})
        shares[name] = share
    total = sum(shares.values())
    if not shares or abs(total - 1.0) > 1e-6:
        raise ValidationError({"buckets": f"Shares must sum to 1 (got {total:g})."})
    return {b: shares[b] for b in BUCKETS if b in shares}
