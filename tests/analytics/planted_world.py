"""Planted worlds for attribution tests: a user population, a catalogue and clicks whose truth is known.

Each world (one per seed) draws:
- six user features: four carry planted preferences (a numeric "age", a numeric "tenure_days", a
  three-level "income_band", a boolean "has_card"), two carry none ("gender", a numeric "balance");
  all six are drawn independently, so a feature without preference is unrelated to every click;
- tag groups crossed into a catalogue (the full factorial, as crossing independent materials gives),
  plus an *aliased* pair: a "button_color" and a "layout" value that always come together because one
  material carries both;
- tag main effects every user shares (some values are liked by everyone);
- nine planted user × tag preferences on the four preference features, drawn per seed;
- a per-user click propensity and several impressions per user, so clicks within a user correlate.

`impression_frame(world, impressions=N, seed=s)` returns rows shaped like the interaction log's
feedback frame (user_id, features, variant_id, bucket, propensity, clicked, tags), uniform over the
catalogue as the random bucket serves it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BASE_LOGIT = float(np.log(0.02 / 0.98))
USER_NOISE_SD = 0.4
IMPRESSIONS_PER_USER = 4

PREFERENCE_FEATURES = ("age", "tenure_days", "income_band", "has_card")
NO_PREFERENCE_FEATURES = ("gender", "balance")

TAG_GROUPS: dict[str, list[str]] = {
    "button_color": ["red", "blue", "gold"],
    "layout": ["single", "grid", "list"],
    "appeal": ["plain", "benefit", "social_proof"],
    "font_scale": ["large", "regular"],
    "visual_style": ["photo", "flat", "3d"],
}
# One material carries both: every variant with button_color=green has layout=stack and vice versa.
ALIASED_PAIR = (("button_color", "green"), ("layout", "stack"))


@dataclass(frozen=True)
class Planted:
    """Users with `feature` `op` `threshold` click variants tagged group=value with `effect` more log-odds."""

    feature: str
    op: str  # "lt", "ge", "eq"
    threshold: Any
    group: str
    value: str
    effect: float

    def applies(self, features: Mapping[str, Any]) -> bool:
        x = features[self.feature]
        if self.op == "lt":
            return x < self.threshold
        if self.op == "ge":
            return x >= self.threshold
        return x == self.threshold

    @property
    def label(self) -> str:
        return f"{self.feature} {self.op} {self.threshold} × {self.group}={self.value} ({self.effect:+.2f})"


@dataclass
class World:
    seed: int
    variants: list[dict[str, list[str]]]
    main_effects: dict[tuple[str, str], float]
    planted: list[Planted]
    variant_noise: np.ndarray = field(repr=False)


def _segments(rng: np.random.Generator) -> list[tuple[str, str, Any]]:
    """Candidate planted segments, with thresholds drawn per world (roughly a quarter to a half of users)."""
    return [
        ("age", "lt", int(rng.choice([28, 30, 32]))),
        ("age", "ge", int(rng.choice([48, 50, 52]))),
        ("tenure_days", "lt", int(rng.choice([250, 300, 350]))),
        ("tenure_days", "ge", int(rng.choice([900, 1000]))),
        ("income_band", "eq", str(rng.choice(["low", "high"]))),
        ("has_card", "eq", True),
    ]


def make_world(seed: int, *, n_planted: int = 9, effect_range: tuple[float, float] = (0.6, 1.1),
               with_alias: bool = True) -> World:
    rng = np.random.default_rng(10_000 + seed)
    groups = list(TAG_GROUPS)
    variants = [{g: [v] for g, v in zip(groups, combo, strict=True)}
                for combo in itertools.product(*(TAG_GROUPS[g] for g in groups))]
    if with_alias:
        (g1, v1), (g2, v2) = ALIASED_PAIR
        for combo in itertools.product(*(TAG_GROUPS[g] for g in groups if g not in (g1, g2))):
            rest = dict(zip([g for g in groups if g not in (g1, g2)], combo, strict=True))
            variants.append({g1: [v1], g2: [v2], **{g: [v] for g, v in rest.items()}})
    # Main effects: one liked value per group that everyone shares (the trap of CTR(tag, s) / CTR(s)).
    main_effects = {}
    for g in groups:
        liked = str(rng.choice(TAG_GROUPS[g]))
        main_effects[(g, liked)] = float(rng.uniform(0.3, 0.6))
    if with_alias:
        main_effects[ALIASED_PAIR[0]] = 0.4
    segments = _segments(rng)
    tags = [(g, v) for g in groups if g != "visual_style" for v in TAG_GROUPS[g]]
    planted: list[Planted] = []
    used: set[tuple[str, str, str]] = set()
    # Every preference feature gets at least one planted preference, then the rest are drawn freely.
    order = [segments[0], segments[2], segments[4], segments[5]]
    while len(planted) < n_planted:
        feature, op, threshold = order[len(planted)] if len(planted) < len(order) else \
            segments[int(rng.integers(len(segments)))]
        group, value = tags[int(rng.integers(len(tags)))]
        if (feature, group, value) in used or any(p.feature == feature and p.group == group for p in planted):
            continue
        used.add((feature, group, value))
        sign = 1.0 if rng.random() < 0.7 else -1.0
        planted.append(Planted(feature, op, threshold, group, value, sign * float(rng.uniform(*effect_range))))
    noise = rng.normal(0.0, 0.05, len(variants))
    return World(seed=seed, variants=variants, main_effects=main_effects, planted=planted, variant_noise=noise)


def make_users(n: int, rng: np.random.Generator, *, balance_follows_age: bool = False) -> list[dict[str, Any]]:
    ages = rng.integers(18, 75, n)
    tenure = rng.integers(0, 2000, n)
    income = rng.choice(["low", "mid", "high"], n, p=[0.35, 0.4, 0.25])
    card = rng.random(n) < 0.45
    gender = rng.choice(["f", "m"], n)
    balance = np.round(rng.lognormal(8.0, 1.2, n), 2)
    if balance_follows_age:  # older users hold more: balance carries no preference but tracks age (r ≈ 0.6)
        balance = np.round(np.exp(8.0 + 0.03 * (ages - 45) + rng.normal(0.0, 0.6, n)), 2)
    return [{"age": int(ages[i]), "tenure_days": int(tenure[i]), "income_band": str(income[i]),
             "has_card": bool(card[i]), "gender": str(gender[i]), "balance": float(balance[i])}
            for i in range(n)]


def click_logit(world: World, features: Mapping[str, Any], tags: Mapping[str, list[str]]) -> float:
    logit = BASE_LOGIT
    for (g, v), effect in world.main_effects.items():
        if v in tags.get(g, []):
            logit += effect
    for p in world.planted:
        if p.value in tags.get(p.group, []) and p.applies(features):
            logit += p.effect
    return logit


def impression_frame(world: World, *, impressions: int = 60_000, seed: int = 0,
                     impressions_per_user: int = IMPRESSIONS_PER_USER,
                     user_noise_sd: float = USER_NOISE_SD, user_taste_sd: float = 0.0,
                     balance_follows_age: bool = False) -> pd.DataFrame:
    """Random-bucket impressions of the world: each user sees `impressions_per_user` uniform draws.

    `user_noise_sd`: how much users differ in clicking anything; `user_taste_sd`: how much each user's
    liking of each tag value differs from their segment's (individual taste, no segment pattern);
    `balance_follows_age`: the no-preference feature "balance" is drawn from age, so it inherits age's
    preferences in any marginal comparison."""
    rng = np.random.default_rng(seed * 7919 + world.seed)
    n_users = max(1, impressions // impressions_per_user)
    users = make_users(n_users, rng, balance_follows_age=balance_follows_age)
    user_noise = rng.normal(0.0, user_noise_sd, n_users)
    # Per-variant planted parts are cached per user profile class: compute the logit per (user, variant).
    user_idx = np.repeat(np.arange(n_users), impressions_per_user)[:impressions]
    variant_idx = rng.integers(len(world.variants), size=len(user_idx))
    keys = sorted({(g, v) for variant in world.variants for g, values in variant.items() for v in values})
    key_index = {k: i for i, k in enumerate(keys)}
    variant_keys = [[key_index[(g, v)] for g, values in variant.items() for v in values] for variant in world.variants]
    taste = rng.normal(0.0, user_taste_sd, (n_users, len(keys))) if user_taste_sd else None
    logits = np.empty(len(user_idx))
    for row, (u, v) in enumerate(zip(user_idx, variant_idx, strict=True)):
        logits[row] = click_logit(world, users[u], world.variants[v]) + user_noise[u] + world.variant_noise[v]
        if taste is not None:
            logits[row] += taste[u, variant_keys[v]].sum()
    clicked = (rng.random(len(user_idx)) < 1.0 / (1.0 + np.exp(-logits))).astype(int)
    return pd.DataFrame({
        "decision_id": [f"w{world.seed}-s{seed}-d{i}" for i in range(len(user_idx))],
        "user_id": [f"w{world.seed}-u{u}" for u in user_idx],
        "features": [users[u] for u in user_idx],
        "variant_id": variant_idx + 1,
        "bucket": "random",
        "propensity": 1.0 / len(world.variants),
        "clicked": clicked,
        "tags": [world.variants[v] for v in variant_idx],
    })


def band_overlaps(planted: Planted, value: str) -> bool:
    """Does a reported segment value (a band label like "18–24", "<300", "1,000+", or a category)
    intersect the planted segment?"""
    if planted.op == "eq":
        expected = str(planted.threshold).lower() if isinstance(planted.threshold, bool) else str(planted.threshold)
        return value == expected
    low, high = band_bounds(value)
    return low < planted.threshold if planted.op == "lt" else high > planted.threshold


def band_bounds(value: str) -> tuple[float, float]:
    """(low, high) of a band label, high exclusive, for integer ("18–24") and continuous ("0.5–1.2") labels."""
    text = value.replace(",", "").replace(" ", "")
    if text.startswith("<"):
        return -1e18, float(text[1:])
    if text.endswith("+"):
        return float(text[:-1]), 1e18
    if "–" not in text:
        return float(text), float(text) + 1
    low, high = text.split("–")[:2]
    if high.startswith("<"):
        return float(low), float(high[1:])
    return float(low), float(high) + 1


def recovered(planted: Planted, findings: list[dict]) -> bool:
    """A finding about the planted feature and tag, in a band overlapping its segment, in its direction.

    Mirrors count: a two-valued feature is reported from the side that prefers ("has_card = false prefer X"
    is "has_card = true avoid X"), and so is a two-valued tag group ("prefer regular" is "avoid large")."""
    direction = "prefer" if planted.effect > 0 else "avoid"
    values = TAG_GROUPS.get(planted.group, [])
    other_value = [v for v in values if v != planted.value][0] if len(values) == 2 else None
    for f in findings:
        if f["segment_feature"] != planted.feature:
            continue
        tags = {(t["group"], t["value"]) for t in (f.get("tags") or [{"group": f["tag_group"], "value": f["tag_value"]}])}
        if (planted.group, planted.value) in tags:
            flip_tag = False
        elif other_value is not None and (planted.group, other_value) in tags:
            flip_tag = True
        else:
            continue
        if band_overlaps(planted, f["segment_value"]):
            flip_segment = False
        elif planted.op == "eq" and isinstance(planted.threshold, bool) \
                and f["segment_value"] == str(not planted.threshold).lower():
            flip_segment = True
        else:
            continue
        expected = direction if flip_tag == flip_segment else ("avoid" if direction == "prefer" else "prefer")
        if f["direction"] == expected:
            return True
    return False
