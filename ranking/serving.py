"""`rank`: pick the variants one user sees on one placement, log the decision, say why.

Hot-path reads come from process memory: the placement's catalogue (live variants, tag matrices,
running experiment, which variants are still new) is cached per process and reloaded when the
placement's serving version changes (any save of a variant, placement or experiment bumps it; each
process reads the versions at most once a second, see serving_versions) or after
KALEIDO_RANK_CATALOGUE_TTL seconds; the active model comes from `registry`. Per request that leaves the
API-key lookup (process memory too, re-read every few seconds), the rate limit (leased from the cache
in batches) and the decision log (decision_log: one INSERT, or one append to this process's journal).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from counters.services import impressions_by_variant
from creative.models import StyleVariant, VariantStatus
from creative.selectors import placement_by_slug_or_none

from . import features as F
from . import policy as P
from . import registry, rollout, serving_versions
from .buckets import ExplorationPolicy, ServingMode, assign_bucket
from .decision_log import log_decision
from .live_copy import fill_render
from .models import Experiment

log = logging.getLogger(__name__)

THOMPSON_DRAWS = 32


class UnknownPlacement(Exception):
    pass


class NoLiveVariant(Exception):
    pass


@dataclass(frozen=True)
class RankedItem:
    variant_id: int
    variant_key: str
    rank: int
    score: float | None
    propensity: float
    tags: dict[str, list[str]]
    image_url: str
    render: dict[str, Any]
    pinned: bool = False  # an operator pinned it: it leads every bucket, and clients must not demote it


@dataclass(frozen=True)
class RankResult:
    decision_id: str
    placement: str
    bucket: str
    experiment: str | None
    model_version: str
    items: list[RankedItem]
    assigned_bucket: str
    fallback_reason: str = ""


@dataclass
class Catalogue:
    placement_id: int
    slug: str
    default_mode: str
    exploration_policy: str
    epsilon: float
    new_variant_impressions: int
    experiment: tuple[int, str, str, dict] | None  # (id, slug, salt, shares)
    variants: list[dict[str, Any]]  # sorted by id
    pinned: list[int]  # indices into variants
    pool: np.ndarray  # indices of non-pinned variants
    control_order: list[int]  # indices: what the control bucket (and every fallback) shows
    impressions: np.ndarray  # per variant
    token: str
    loaded_at: float
    noise: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _matrices: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _designs: dict[str, np.ndarray] = field(default_factory=dict)
    _scratch: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    def matrices(self, model: registry.LoadedModel) -> tuple[np.ndarray, np.ndarray]:
        """Tag multi-hot and variant codes of every variant for this model, computed once."""
        cached = self._matrices.get(model.version)
        if cached is None:
            tags = F.tag_matrix(model.spec, [v["tags"] for v in self.variants])
            codes = F.variant_codes(model.spec, [v["id"] for v in self.variants])
            cached = self._matrices[model.version] = (tags, codes)
        return cached

    def design(self, model: registry.LoadedModel, *, scratch: bool = False) -> np.ndarray:
        """The LightGBM matrix of every variant at position 1 with the user columns left to fill, made once.

        scratch=True: this thread's own copy, for the caller to write the user columns into (only those
        change between calls, so the copy is made once per thread, not per request).
        """
        cached = self._designs.get(model.version)
        if cached is None:
            tags, codes = self.matrices(model)
            users = np.zeros((len(self.variants), len(model.spec["user"])))
            cached = self._designs[model.version] = F.lgb_matrix(
                model.spec, users=users, tags=tags, variant_codes_=codes, positions=np.ones(len(self.variants)))
        if not scratch:
            return cached
        key = (threading.get_ident(), model.version)
        own = self._scratch.get(key)
        if own is None:
            own = self._scratch[key] = cached.copy()
        return own


# --- catalogue cache ----------------------------------------------------------------------------------------

_catalogues: dict[str, Catalogue] = {}
_local = threading.local()


def invalidate_catalogue(placement_id: int | None = None) -> None:
    """Make every process reload the catalogue on its next request (all placements if None: this
    process only, what a freshly started one sees).

    This process drops its copy now; the others see the placement's serving version bumped once the
    transaction commits (serving_versions), so none keeps a catalogue it read before the commit.
    """
    if placement_id is None:
        _catalogues.clear()
        serving_versions.forget()
        return
    for slug, cat in list(_catalogues.items()):
        if cat.placement_id == placement_id:
            _catalogues.pop(slug, None)
    serving_versions.bump(serving_versions.placement_scope(placement_id))


def _current_token(placement_id: int) -> str:
    """The placement's serving version, re-read from the database at most every KALEIDO_RANK_LOCAL_CHECK_S."""
    return str(serving_versions.current(serving_versions.placement_scope(placement_id)))


# StyleVariant.image_url's rule applied to a bare value: a model instance per variant cost half of a
# 1,000-variant reload (bench/scale.py).
_image_url = vars(StyleVariant)["image_url"].fget


@dataclass(frozen=True, slots=True)
class _RenderedImage:
    rendered_image: str


def _load_catalogue(slug: str) -> Catalogue | None:
    placement = placement_by_slug_or_none(slug)
    if placement is None:
        return None
    token = _current_token(placement.id)
    rows = list(
        StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE, blocked=False)
        .order_by("id").values("id", "variant_key", "tags", "render_spec", "rendered_image", "pinned")
    )
    variants = [{"id": r["id"], "key": r["variant_key"], "tags": r["tags"] or {}, "render": r["render_spec"] or {},
                 "image_url": _image_url(_RenderedImage(r["rendered_image"])),  # the model's one rule
                 "pinned": r["pinned"]} for r in rows]
    # Running totals the rollup refresh keeps (counters): one indexed row per live variant, however many
    # events are stored. They are as fresh as the last rollup refresh (KALEIDO_ROLLUP_EVERY_S with a worker).
    counts = impressions_by_variant(placement_id=placement.id, variant_ids=[v["id"] for v in variants])
    experiment = (Experiment.objects.filter(placement=placement, status=Experiment.Status.RUNNING)
                  .values_list("id", "slug", "salt", "buckets").first())
    pinned = [i for i, v in enumerate(variants) if v["pinned"]]
    pool = np.array([i for i, v in enumerate(variants) if not v["pinned"]], dtype=int)
    control = next((i for i, v in enumerate(variants) if v["id"] == placement.control_variant_id), None)
    noise = np.random.default_rng(placement.id).standard_normal((THOMPSON_DRAWS, max(len(variants), 1)))
    return Catalogue(
        placement_id=placement.id, slug=placement.slug, default_mode=placement.default_mode,
        exploration_policy=placement.exploration_policy, epsilon=placement.exploration_epsilon,
        new_variant_impressions=placement.new_variant_impressions,
        experiment=experiment, variants=variants, pinned=pinned, pool=pool,
        control_order=_control_order(len(variants), pinned, control),
        impressions=np.array([counts.get(v["id"], 0) for v in variants], dtype=float),
        token=token, loaded_at=time.monotonic(), noise=noise,
    )


def _control_order(n: int, pinned: list[int], control: int | None) -> list[int]:
    """Pinned first, then the control design, then the rest by id (indices into the n variants)."""
    if control is None:
        control = pinned[0] if pinned else 0  # documented fallback: pinned or first live
    order = list(pinned)
    if control not in order:
        order.append(control)
    placed = set(order)
    order.extend(i for i in range(n) if i not in placed)
    return order


def get_catalogue(slug: str) -> Catalogue | None:
    cat = _catalogues.get(slug)
    if cat is not None and time.monotonic() - cat.loaded_at < settings.KALEIDO_RANK_CATALOGUE_TTL \
            and _current_token(cat.placement_id) == cat.token:
        return cat
    cat = _load_catalogue(slug)
    if cat is None:
        _catalogues.pop(slug, None)
    else:
        _catalogues[slug] = cat
    return cat


# --- ranking --------------------------------------------------------------------------------------------------

def seed_draws(seed: int | None) -> None:
    """Seed this thread's serving draws (exploration, random buckets, Thompson heads): a simulation run in
    process is then reproducible. None goes back to fresh entropy. Servers never call it."""
    _local.rng = None if seed is None else np.random.default_rng(seed)


def _rng() -> np.random.Generator:
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = _local.rng = np.random.default_rng()
    return rng


def score_user(model: registry.LoadedModel, cat: Catalogue, feature_row: dict[str, Any]) -> np.ndarray:
    """Click probability of every catalogue variant for one user at position 1, vectorised."""
    if model.booster is not None:
        x = cat.design(model, scratch=True)
        x[:, :len(model.spec["user"])] = model.encode_user(feature_row)
        return model.predict_matrix(x)
    tags, codes = cat.matrices(model)
    users = np.repeat(F.user_codes(model.spec, [feature_row]), len(cat.variants), axis=0)
    return model.predict(users=users, tags=tags, vcodes=codes, positions=np.ones(len(cat.variants)))


def model_policy(cat: Catalogue, scores: np.ndarray, *, epsilon: float | None = None,
                 pool: np.ndarray | None = None, prior_sd: float | None = None) -> P.SlatePolicy:
    """The model bucket's policy for one user: over the catalogue's unpinned pool (policy index i is
    catalogue variant cat.pool[i]), with the placement's exploration (ε, the new-variant share, Thompson
    draws). What serving samples from and what off-policy evaluation computes a target's propensities with.

    `prior_sd`: the model's prior sd of a variant's own effect (its spec's `variant_effect_sd`), which
    Thompson's posterior starts from; KALEIDO_THOMPSON_SCALE for a model that states none."""
    pool = cat.pool if pool is None else pool
    pool_scores = scores[pool]
    seen = cat.impressions[pool]
    new_mask = P.new_variants(seen, threshold=cat.new_variant_impressions,
                              relative=settings.KALEIDO_NEW_VARIANT_RELATIVE)
    heads = None
    if cat.exploration_policy == ExplorationPolicy.THOMPSON:
        prior = settings.KALEIDO_THOMPSON_SCALE if prior_sd is None else float(prior_sd)
        heads = P.thompson_heads(pool_scores, P.posterior_sd(pool_scores, seen, prior),
                                 cat.noise[:, pool])
    if epsilon is None:  # the placement's ε, settled by its evidence; an explicit ε is used as given
        epsilon = P.settled_epsilon(cat.epsilon, seen, floor=settings.KALEIDO_EXPLORATION_FLOOR,
                                    settle_impressions=settings.KALEIDO_EXPLORATION_SETTLE_IMPRESSIONS)
    return P.SlatePolicy(scores=pool_scores, epsilon=epsilon,
                         new_mask=new_mask, new_share=settings.KALEIDO_NEW_VARIANT_SHARE, heads=heads)


def _model_slate(cat: Catalogue, scores: np.ndarray, m: int, pool: np.ndarray,
                 prior_sd: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    pol = model_policy(cat, scores, pool=pool, prior_sd=prior_sd)
    chosen = P.sample(pol, m, _rng())
    return pool[chosen], P.propensities(pol, chosen)


def _visible_pool(cat: Catalogue, hidden: frozenset[int]) -> np.ndarray:
    """The unpinned pool without the variants a ramp hides from this user (computed once per catalogue)."""
    pools = cat.__dict__.setdefault("_visible_pools", {})
    pool = pools.get(hidden)
    if pool is None:
        pool = pools[hidden] = np.array([i for i in cat.pool if cat.variants[i]["id"] not in hidden], dtype=int)
    return pool


def rank(*, placement: str, user_id: str, features: dict[str, Any] | None = None, k: int = 1,
         context: dict[str, Any] | None = None) -> RankResult:
    cat = get_catalogue(placement)
    if cat is None:
        raise UnknownPlacement(placement)
    if not cat.variants:
        raise NoLiveVariant(placement)
    features, context = features or {}, context or {}
    experiment_id = experiment_slug = None
    if cat.experiment is not None:
        experiment_id, experiment_slug, salt, shares = cat.experiment
        bucket = assign_bucket(salt=salt, user_id=user_id, shares=shares)
    else:
        bucket = cat.default_mode
    assigned, served, reason, model_version = bucket, bucket, "", ""
    # A variant ramp under way hides its variants from the users outside its arm (ranking.rollout): their
    # slate is drawn from the rest, so the logged propensities are exact for the pool they were served from.
    hidden = rollout.hidden_variants_for(cat.placement_id, user_id)
    pool = _visible_pool(cat, hidden) if hidden else cat.pool
    k = min(max(k, 1), len(cat.pinned) + len(pool))
    pinned = cat.pinned[:k]
    m = k - len(pinned)
    scores = None
    shown, props = np.array(pinned, dtype=int), np.ones(len(pinned))

    if bucket == ServingMode.MODEL:
        # A ramp under way serves its candidate to the users in its arm (ranking.rollout).
        version = (rollout.candidate_version_for(cat.placement_id, user_id)
                   or registry.active_version_for(cat.placement_id))
        try:
            if version is None:
                raise registry.ModelUnavailable("no_model")
            model = registry.get_model(version, wait_s=settings.KALEIDO_RANK_MODEL_WAIT_S)
            scores = score_user(model, cat, F.row_features(features, context))
            if not np.all(np.isfinite(scores)):
                raise registry.ModelUnavailable("scoring_error", "non-finite scores")
            model_version = version
            if m > 0 and len(pool):
                idx, p = _model_slate(cat, scores, m, pool, model.spec.get("variant_effect_sd"))
                shown, props = np.concatenate([shown, idx]), np.concatenate([props, p])
        except registry.ModelUnavailable as exc:
            served, reason, scores = ServingMode.CONTROL, exc.reason, None  # type: ignore[assignment]  # a TextChoices member
        except Exception as exc:  # any scoring failure: serve the control design, never a 500
            log.exception("scoring failed for %s", cat.slug)
            served, reason, scores = (ServingMode.CONTROL,  # type: ignore[assignment]  # a TextChoices member
                                      f"scoring_error:{type(exc).__name__}"[:40], None)
    elif bucket == ServingMode.RANDOM and m > 0 and len(pool):
        idx = _rng().permutation(len(pool))[:m]
        shown = np.concatenate([shown, pool[idx]])
        props = np.concatenate([props, np.full(len(idx), 1.0 / len(pool))])
    if served == ServingMode.CONTROL:
        order = cat.control_order if not hidden else [i for i in cat.control_order
                                                      if cat.variants[i]["id"] not in hidden]
        shown, props = np.array(order[:k], dtype=int), np.ones(len(order[:k]))
        if reason:
            model_version = f"fallback:{reason}"[:40]

    items = []
    claims: dict[int, dict[str, Any]] = {}  # variant id -> the copy it was shown with live values
    for position, (i, propensity) in enumerate(zip(shown.tolist(), props.tolist(), strict=True), start=1):
        v = cat.variants[i]
        render = v["render"]
        if "dynamic" in render:  # live numbers in its copy: filled for this request (ranking.live_copy)
            filled = fill_render(render, cat.placement_id, context)
            if filled is not None:
                render = filled.render
                if filled.shown:
                    claims[v["id"]] = filled.shown
        items.append(RankedItem(variant_id=v["id"], variant_key=v["key"], rank=position,
                                score=None if scores is None else float(scores[i]), propensity=float(propensity),
                                tags=v["tags"], image_url=v["image_url"], render=render, pinned=v["pinned"]))
    decision_id = uuid.uuid4()
    log_decision({
        "decision_id": decision_id.hex, "placement_id": cat.placement_id, "user_id": user_id,
        "features": features, "context": context, "bucket": served, "experiment_id": experiment_id,
        "model_version": model_version, "created_at": timezone.now().isoformat(),
        # Each item keeps the tags it was served with: re-tagging a variant later does not rewrite history
        # (analytics.interaction_log reads them back as the tags as served).
        # ... and the copy it showed with live numbers (`copy`: line -> text, values shown, values read), so
        # what was claimed to whom stays on record.
        "items": [{"variant_id": it.variant_id, "rank": it.rank, "score": it.score, "propensity": it.propensity,
                   "tags": it.tags, **({"copy": claims[it.variant_id]} if it.variant_id in claims else {})}
                  for it in items],
        "assigned_bucket": assigned, "fallback_reason": reason, "candidates": len(pool) or len(cat.variants),
    })
    return RankResult(decision_id=str(decision_id), placement=cat.slug, bucket=served,
                      experiment=experiment_slug, model_version=model_version, items=items,
                      assigned_bucket=assigned, fallback_reason=reason)
