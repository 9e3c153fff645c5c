"""A simulated user population that drives the real HTTP API: rank → impression → click.

Ground truth. Each user's click probability for a variant at a position is

    sigmoid(BASE_LOGIT + user_noise + variant_noise + Σ planted effects that apply) × POSITION_FACTOR[position]

where a planted effect applies when the user is in its segment and the variant carries its tag.
PLANTED_PREFERENCES lists every effect (the analytics area reads it to check that attribution finds
them); NEUTRAL_TAG_GROUPS lists tag groups with no planted effect at all (attribution should find
nothing there).

Transport. `InProcessTransport` sends requests through `django.test.Client` with a real API key, so
the same URLconf, middleware, authentication and views run as under a server; `HttpTransport` sends
them to a running server at a base URL. Events go in batches of up to 1000 to POST /api/v1/events.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

BASE_LOGIT = math.log(0.04 / 0.96)  # a 4% click-through rate before any preference
USER_NOISE_SD = 0.3  # per-user taste for clicking anything (log-odds)
VARIANT_NOISE_SD = 0.1  # per-variant idiosyncrasy nobody planted (log-odds)
POSITION_FACTOR = (1.0, 0.6, 0.45, 0.35, 0.3)  # multiplies the click probability at rank 1, 2, …
CONVERSION_RATE = 0.15  # a click converts (signs up, buys) this often, whatever the design: CVR per click


@dataclass(frozen=True)
class Preference:
    """Users in `segment` click variants tagged `group=value` more (effect > 0) or less (< 0)."""

    feature: str
    op: str  # "lt", "ge" or "eq"
    threshold: Any
    group: str
    value: str
    effect: float  # added to the click log-odds
    segment: str  # readable, e.g. "age < 30"

    def applies(self, user: Mapping[str, Any]) -> bool:
        x = user.get(self.feature)
        if x is None:
            return False
        if self.op == "lt":
            return x < self.threshold
        if self.op == "ge":
            return x >= self.threshold
        return x == self.threshold


PLANTED_PREFERENCES: tuple[Preference, ...] = (
    Preference("age", "lt", 30, "button_color", "blue", 1.5, "age < 30"),
    Preference("age", "lt", 30, "layout", "grid", -0.4, "age < 30"),
    Preference("age", "ge", 50, "layout", "grid", 1.5, "age >= 50"),
    Preference("age", "ge", 50, "font_scale", "large", 0.5, "age >= 50"),
    Preference("income_band", "eq", "low", "appeal", "plain", 1.2, "income_band = low"),
    Preference("income_band", "eq", "low", "language", "zh", 0.4, "income_band = low"),
    Preference("has_credit_card", "eq", True, "button_color", "gold", 1.0, "has_credit_card = true"),
    Preference("investment_count", "ge", 5, "layout", "list", 1.0, "investment_count >= 5"),
)
# Tag groups whose values change nothing for anyone.
NEUTRAL_TAG_GROUPS: tuple[str, ...] = ("visual_style", "dominant_color", "text_position")

USER_FEATURES = ("age", "gender", "income_band", "holdings", "investment_count", "has_credit_card")
CONTEXT_FEATURES = ("device",)


@dataclass(frozen=True)
class SimUser:
    user_id: str
    features: dict[str, Any]
    context: dict[str, Any]
    noise: float

    @property
    def profile(self) -> dict[str, Any]:
        return {**self.features, **self.context}


def make_users(n: int, *, seed: int = 0, prefix: str = "sim") -> list[SimUser]:
    rng = np.random.default_rng(seed)
    ages = rng.integers(18, 71, n)
    genders = rng.choice(["f", "m"], n)
    incomes = rng.choice(["low", "mid", "high"], n, p=[0.35, 0.45, 0.2])
    holdings = np.round(rng.lognormal(3.0, 1.0, n), 1)
    investments = rng.poisson(3.0, n)
    cards = rng.random(n) < 0.5
    devices = rng.choice(["ios", "android", "web"], n, p=[0.45, 0.45, 0.1])
    noise = rng.normal(0.0, USER_NOISE_SD, n)
    return [
        SimUser(
            user_id=f"{prefix}-{seed}-{i}",
            features={"age": int(ages[i]), "gender": str(genders[i]), "income_band": str(incomes[i]),
                      "holdings": float(holdings[i]), "investment_count": int(investments[i]),
                      "has_credit_card": bool(cards[i])},
            context={"device": str(devices[i])},
            noise=float(noise[i]),
        )
        for i in range(n)
    ]


@functools.lru_cache(maxsize=65536)
def variant_noise(variant_key: str) -> float:
    """A fixed per-variant effect, the same in every run and every database (keyed by the variant's key,
    not its row id)."""
    seed = int.from_bytes(hashlib.sha256(variant_key.encode()).digest()[:8], "big")
    return float(np.random.default_rng(seed).normal(0.0, VARIANT_NOISE_SD))


def planted_effect(profile: Mapping[str, Any], tags: Mapping[str, list[str]]) -> float:
    return sum(p.effect for p in PLANTED_PREFERENCES if p.value in (tags.get(p.group) or []) and p.applies(profile))


def click_probability(user: SimUser, tags: Mapping[str, list[str]], *, position: int = 1,
                      variant_key: str | None = None) -> float:
    """The ground truth: how likely this user clicks this variant at this position."""
    logit = BASE_LOGIT + user.noise + planted_effect(user.profile, tags)
    if variant_key is not None:
        logit += variant_noise(variant_key)
    factor = POSITION_FACTOR[min(position, len(POSITION_FACTOR)) - 1]
    return factor / (1.0 + math.exp(-logit))


# --- transports ------------------------------------------------------------------------------------------------

class InProcessTransport:
    """Requests through Django's test client: same URLconf, middleware, auth and views as a server."""

    def __init__(self, api_key: str):
        from django.conf import settings
        from django.test import Client

        host = "testserver" if "testserver" in settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS \
            else (settings.ALLOWED_HOSTS or ["localhost"])[0].lstrip(".")
        self.client = Client(HTTP_HOST=host)
        self.auth = f"Api-Key {api_key}"

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        response = self.client.post(path, data=json.dumps(body), content_type="application/json",
                                    HTTP_AUTHORIZATION=self.auth)
        return response.status_code, json.loads(response.content or b"null")


class HttpTransport:
    """Requests to a running server, e.g. http://127.0.0.1:8000."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.auth = f"Api-Key {api_key}"
        self.timeout = timeout

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the operator chose the base URL
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": self.auth},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


# --- the simulation --------------------------------------------------------------------------------------------

@dataclass
class BucketStats:
    users: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    expected_clicks: float = 0.0  # sum of ground-truth click probabilities of what was shown

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def true_ctr(self) -> float:
        return self.expected_clicks / self.impressions if self.impressions else 0.0


@dataclass
class SimulationReport:
    placement: str
    buckets: dict[str, BucketStats] = field(default_factory=dict)
    model_versions: dict[str, int] = field(default_factory=dict)
    rejected_events: int = 0

    def lines(self) -> list[str]:
        out = []
        for name in sorted(self.buckets):
            b = self.buckets[name]
            out.append(f"{self.placement} {name:8s} users={b.users:6d} impressions={b.impressions:6d} "
                       f"clicks={b.clicks:5d} ctr={b.ctr:.4f} true_ctr={b.true_ctr:.4f}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"placement": self.placement, "model_versions": self.model_versions,
                "buckets": {k: {"users": b.users, "impressions": b.impressions, "clicks": b.clicks,
                                "conversions": b.conversions,
                                "ctr": b.ctr, "true_ctr": b.true_ctr} for k, b in self.buckets.items()}}


class RankFailed(RuntimeError):
    pass


def simulate(*, transport, placement: str, users: list[SimUser], k: int = 1, seed: int = 0,
             on_progress: Callable[[int], None] | None = None) -> SimulationReport:
    """Each user asks for k variants, sees them, and clicks with the ground-truth probability."""
    rng = np.random.default_rng(seed + 1_000_003)
    # Conversions draw from their own stream, so the clicks of a seed do not depend on whether they convert.
    conversion_rng = np.random.default_rng(seed + 2_000_003)
    report = SimulationReport(placement=placement)
    pending: list[dict] = []
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def flush() -> None:
        if pending:
            # In process, this process also journals the decisions (KALEIDO_DECISION_LOG=journal): store them
            # before their events, as the flush interval does for a real client. Over HTTP this is a no-op.
            from .decision_log import flush_journal

            flush_journal()
            status, body = transport.post("/api/v1/events", {"events": pending})
            if status != 202:
                raise RankFailed(f"events: HTTP {status}: {body}")
            report.rejected_events += len(body.get("rejected", []))
            pending.clear()

    for count, user in enumerate(users, start=1):
        status, body = transport.post("/api/v1/rank", {
            "placement": placement, "user": {"id": user.user_id, "features": user.features}, "k": k,
            "context": user.context})
        if status != 200:
            raise RankFailed(f"rank: HTTP {status}: {body}")
        stats = report.buckets.setdefault(body["bucket"], BucketStats())
        stats.users += 1
        version = body.get("model_version") or ""
        report.model_versions[version] = report.model_versions.get(version, 0) + 1
        for item in body["items"]:
            p = click_probability(user, item["tags"], position=item["rank"], variant_key=item["variant_key"])
            stats.impressions += 1
            stats.expected_clicks += p
            base = {"decision_id": body["decision_id"], "variant_id": item["variant_id"], "user_id": user.user_id,
                    "placement": placement, "position": item["rank"], "ts": now}
            pending.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
            if rng.random() < p:
                stats.clicks += 1
                pending.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
                if conversion_rng.random() < CONVERSION_RATE:
                    stats.conversions += 1
                    pending.append({"event_id": uuid.uuid4().hex, "type": "conversion", **base})
        if len(pending) >= 900:
            flush()
        if on_progress is not None and count % 1000 == 0:
            on_progress(count)
    flush()
    return report


def in_process_transport(*, name: str = "traffic simulator", seed: int | None = None) -> InProcessTransport:
    """A transport with a fresh API key (scopes rank, events). With `seed`, the server's draws in this
    thread (which variant a random or exploring request gets) are seeded too, so a run repeats exactly."""
    from access.services import api_key_create

    from . import serving

    if seed is not None:
        serving.seed_draws(seed)

    issued = api_key_create(name=name, scopes=["rank", "events"])
    return InProcessTransport(issued.secret)
