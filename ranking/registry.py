"""The model registry: artefacts on disk, versions in the database, the active model in process memory.

Artefacts are LightGBM's text model format or JSON coefficients, never pickle, and their SHA-256 is checked
on load, so a tampered or truncated file is refused rather than executed or half-read.

Serving never queries the model table per request: the set of active versions lives in Django's cache
under one key (a few hundred bytes) with a short timeout; activation deletes it, so every process sees the
change on its next request (shared Redis cache) or within the timeout (per-process memory cache). Loaded
models stay in this process keyed by version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kaleido.two_level_cache import TwoLevelCache

from . import features as F
from . import serving_versions
from .models import ModelVersion

log = logging.getLogger(__name__)

ACTIVE_KEY = "ranking:active-models"
_RETRY_FAILED_LOAD_S = 30.0


class ModelUnavailable(Exception):
    """The active model cannot be used; `reason` is a short code shown in model_version / fallback_reason."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


def linear_logits(spec: dict[str, Any], coef: dict[str, Any], *, users: np.ndarray, tags: np.ndarray,
                  positions: np.ndarray, vcodes: np.ndarray | None = None) -> np.ndarray:
    """The logistic regression's log-odds without its per-variant term (training.fit_logreg's coefficients)."""
    u = F.logreg_user_matrix(spec, users, coef["scaling"])
    u = np.hstack([u, F.logreg_context(spec, vcodes, len(u))])  # the general model's placement, surface
    wu, wt, wx = np.asarray(coef["w_user"]), np.asarray(coef["w_tags"]), np.asarray(coef["w_cross"])
    # Σ_a Σ_t u_a · t_t · W_at, computed without building the crossed design matrix.
    cross = np.sum((u @ wx) * tags, axis=1) if wx.size else 0.0
    pos = F.position_feature(positions)[:, 0] * coef["w_position"]
    return coef["intercept"] + u @ wu + tags @ wt + cross + pos


@dataclass
class LoadedModel:
    version: str
    algo: str
    spec: dict[str, Any]
    booster: Any = None  # lightgbm.Booster
    coef: dict[str, Any] = field(default_factory=dict)  # logistic regression
    columns: list[str] = field(default_factory=list)
    compiled: Any = None  # compiled.CompiledForest once the booster has been compiled (LightGBM only)
    _user_encoders: list | None = None

    def encode_user(self, feature_row: dict[str, Any]) -> np.ndarray:
        """One user's row of F.user_codes, with the category lookups built once per model."""
        encoders = self._user_encoders
        if encoders is None:
            encoders = self._user_encoders = F.user_encoders(self.spec)
        return F.encode_user_row(encoders, feature_row)

    def predict(self, *, users: np.ndarray, tags: np.ndarray, vcodes: np.ndarray | None,
                positions: np.ndarray) -> np.ndarray:
        """Click probabilities for aligned rows (users, tags, variant codes, positions)."""
        if self.algo == ModelVersion.Algo.LIGHTGBM:
            x = F.lgb_matrix(self.spec, users=users, tags=tags, variant_codes_=vcodes, positions=positions)
            return self.predict_matrix(x)
        return 1.0 / (1.0 + np.exp(-self._logits(users, tags, positions, vcodes)))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """LightGBM click probabilities for an encoded matrix (F.lgb_matrix): compiled when ready, then
        calibrated with the spec's Platt slope and intercept (fitted on the validation split) if it has them."""
        compiled = self.compiled
        p = compiled.predict(x) if compiled is not None else self.booster.predict(x, num_threads=1)
        calibration = self.spec.get("calibration")
        offset_col = F.variant_offset_column(self.spec)
        blend = self.spec.get("blend")
        if calibration is None and offset_col is None and blend is None:
            return p
        slope, intercept = calibration or (1.0, 0.0)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        logit = np.log(p / (1 - p))
        if blend is not None:  # training.blend_spec: calibrated trees and regression, averaged
            logit = self._blend_logit(logit, x)
        if offset_col is not None:  # the per-variant quality the trees do not see (training.fit_variant_offsets)
            logit = logit + x[:, offset_col]
        return 1.0 / (1.0 + np.exp(-(slope * logit + intercept)))

    def _blend_logit(self, tree_logit: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(1 − a)·(calibrated tree log-odds) + a·(the regression's calibrated log-odds), a = the blend's
        weight; the users, tags and positions are read back from the design matrix's own columns."""
        blend = self.spec["blend"]
        s1, b1 = blend["tree_calibration"]
        return (1 - blend["weight"]) * (s1 * tree_logit + b1) + self._blend_linear(x)

    def _blend_linear(self, x: np.ndarray) -> np.ndarray:
        """The regression's weighted share of a blend's log-odds, from the design matrix's user, tag and
        position columns."""
        blend = self.spec["blend"]
        nu, nt = len(self.spec["user"]), len(self.spec["tags"])
        return blend["weight"] * linear_logits(self.spec, blend["linear"], users=x[:, :nu], tags=x[:, nu:nu + nt],
                                               positions=x[:, -1])

    def _logits(self, users: np.ndarray, tags: np.ndarray, positions: np.ndarray,
                vcodes: np.ndarray | None = None) -> np.ndarray:
        return (linear_logits(self.spec, self.coef, users=users, tags=tags, positions=positions, vcodes=vcodes)
                + self._variant_term(vcodes, len(users)))

    def _variant_term(self, vcodes: np.ndarray | None, n: int) -> np.ndarray:
        """The logistic regression's shrunk per-variant quality (0 for a variant it never saw)."""
        wv = self.coef.get("w_variant")
        if not wv or vcodes is None:
            return np.zeros(n)
        codes = np.asarray(vcodes, dtype=np.float64).reshape(-1)
        out = np.zeros(n)
        ok = ~np.isnan(codes)
        out[ok] = np.asarray(wv)[codes[ok].astype(int)]
        return out

    def contributions(self, *, users: np.ndarray, tags: np.ndarray, vcodes: np.ndarray | None,
                      positions: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Per-feature additive contributions on the log-odds scale; the last column is the bias."""
        if self.algo == ModelVersion.Algo.LIGHTGBM:
            x = F.lgb_matrix(self.spec, users=users, tags=tags, variant_codes_=vcodes, positions=positions)
            contrib = self.booster.predict(x, pred_contrib=True, num_threads=1)
            names = F.column_names(self.spec) + ["bias"]
            blend = self.spec.get("blend")
            if blend is not None:  # the trees' share, and the regression's as one column before the bias
                s1, b1 = blend["tree_calibration"]
                contrib = contrib * (1 - blend["weight"]) * s1
                contrib[:, -1] += (1 - blend["weight"]) * b1
                linear = self._blend_linear(x).reshape(-1, 1)
                contrib = np.hstack([contrib[:, :-1], linear, contrib[:, -1:]])
                names = names[:-1] + ["linear_model", "bias"]
            offset_col = F.variant_offset_column(self.spec)
            if offset_col is not None:  # the booster never splits on it: its contribution is the offset itself
                contrib[:, offset_col] += x[:, offset_col]
            calibration = self.spec.get("calibration")
            if calibration is not None:  # the calibrated log-odds are slope · raw + intercept
                contrib = contrib * calibration[0]
                contrib[:, -1] += calibration[1]
            return names, contrib
        c = self.coef
        u = F.logreg_user_matrix(self.spec, users, c["scaling"])
        u = np.hstack([u, F.logreg_context(self.spec, vcodes, len(u))])
        wu, wt, wx = np.asarray(c["w_user"]), np.asarray(c["w_tags"]), np.asarray(c["w_cross"])
        cross = (u[:, :, None] * tags[:, None, :] * wx[None, :, :]).reshape(len(u), -1)
        ucols = F.logreg_user_columns(self.spec) + F.logreg_context_columns(self.spec)
        tcols = [f"tag:{t}" for t in self.spec["tags"]]
        names = ucols + tcols + [f"{a}×{t}" for a in ucols for t in tcols] + ["position", "variant", "bias"]
        pos = F.position_feature(positions) * c["w_position"]
        variant = self._variant_term(vcodes, len(u)).reshape(-1, 1)
        bias = np.full((len(u), 1), c["intercept"])
        return names, np.hstack([u * wu, tags * wt, cross, pos, variant, bias])


# --- artefacts --------------------------------------------------------------------------------------------

def model_root() -> Path:
    return Path(settings.MODEL_ROOT) / "ranking"


def write_artefact(*, version: str, data: bytes, suffix: str) -> tuple[str, str]:
    """Write the artefact atomically; returns (path relative to MODEL_ROOT, sha256)."""
    folder = model_root() / f"v{version}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"model{suffix}"
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return str(target.relative_to(Path(settings.MODEL_ROOT))), hashlib.sha256(data).hexdigest()


def artefact_path(mv: ModelVersion) -> Path:
    return Path(settings.MODEL_ROOT) / mv.artefact


def load_from_row(mv: ModelVersion) -> LoadedModel:
    path = artefact_path(mv)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable("artefact_missing", f"{path}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != mv.artefact_sha256:
        raise ModelUnavailable("artefact_corrupt", f"{path}: checksum mismatch")
    try:
        if mv.algo == ModelVersion.Algo.LIGHTGBM:
            import lightgbm as lgb

            booster = lgb.Booster(model_str=data.decode("utf-8"))
            return LoadedModel(version=mv.version, algo=mv.algo, spec=mv.feature_spec, booster=booster)
        coef = json.loads(data)
        return LoadedModel(version=mv.version, algo=mv.algo, spec=mv.feature_spec, coef=coef)
    except Exception as exc:  # any parse failure means the artefact cannot serve
        raise ModelUnavailable("artefact_corrupt", f"{path}: {exc}") from exc


# --- in-process cache -------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[str, LoadedModel] = {}
_failed: dict[str, tuple[float, ModelUnavailable]] = {}
_loading: dict[str, Future] = {}
_analysis_slot: dict[str, LoadedModel] = {}  # batch work's one model, outside `_loaded` (model_for_analysis)
_executor: ThreadPoolExecutor | None = None
_compile_executor: ThreadPoolExecutor | None = None


def reset_caches() -> None:
    """Forget loaded models (what a freshly started process sees)."""
    with _lock:
        _loaded.clear()
        _failed.clear()
        _loading.clear()
        _analysis_slot.clear()
    serving_versions.forget()
    _active_tables.invalidate(ACTIVE_KEY)


# The active-version table: this process's copy for KALEIDO_RANK_LOCAL_CHECK_S, then the shared cache's
# for KALEIDO_MODEL_STAMP_TTL, both kept at the `models` serving version they were read at.
_active_tables: TwoLevelCache[dict[str, Any]] = TwoLevelCache(
    "active models", local_s=lambda: settings.KALEIDO_RANK_LOCAL_CHECK_S,
    shared_s=lambda: settings.KALEIDO_MODEL_STAMP_TTL)


def _active_table() -> dict[str, Any]:
    """Active versions, from process memory for KALEIDO_RANK_LOCAL_CHECK_S, then from the shared cache.

    An activation bumps the `models` serving version, which every process reads at most once a second
    (serving_versions): a table read at an older version is never used, in memory or in the cache.
    """
    stamp = serving_versions.current(serving_versions.MODELS)
    return _active_tables.get_or_compute(ACTIVE_KEY, _read_active_table, version=stamp)


def _read_active_table() -> dict[str, Any]:
    rows = ModelVersion.objects.filter(is_active=True).values_list("placement_id", "scope", "version")
    table: dict[str, Any] = {"dedicated": {}, "general": None}
    for placement_id, scope, version in rows:
        if scope == ModelVersion.Scope.GENERAL:
            table["general"] = version
        else:
            table["dedicated"][placement_id] = version
    return table


def active_version_for(placement_id: int) -> str | None:
    """The dedicated model of the placement if one is active, else the active general model."""
    table = _active_table()
    return table["dedicated"].get(placement_id) or table["general"]


def get_model(version: str, *, wait_s: float | None = None) -> LoadedModel:
    """The loaded model, from process memory after the first call. Raises ModelUnavailable.

    Reading and parsing an artefact runs on a loader thread. With `wait_s` the caller waits at most
    that long and gets ModelUnavailable("model_loading") if the artefact is still loading (serving
    answers with the control design meanwhile, and a later call finds the model ready); without it
    the caller waits for the load to finish.
    """
    model = _loaded.get(version)
    if model is not None:
        return model
    failed = _failed.get(version)
    if failed is not None and time.monotonic() - failed[0] < _RETRY_FAILED_LOAD_S:
        raise failed[1]
    with _lock:
        model = _loaded.get(version)
        if model is not None:
            return model
        pending = _loading.get(version)
        if pending is None:
            # The row is read here, on the caller's connection (and inside its transaction); the
            # loader thread touches only the file.
            mv = ModelVersion.objects.filter(version=version).first()
            if mv is None:
                exc = ModelUnavailable("no_model", f"model version {version} does not exist")
                _failed[version] = (time.monotonic(), exc)
                raise exc
            if mv.algo == ModelVersion.Algo.LIGHTGBM:
                # Importing LightGBM (and scikit-learn under it) takes about a second, once per process:
                # a cold start paid here, so the wait below only measures reading the artefact.
                import lightgbm  # noqa: F401
            pending = _loading[version] = _loader().submit(_load_and_keep, mv)
    try:
        return pending.result(timeout=wait_s)
    except FuturesTimeout as exc:
        raise ModelUnavailable("model_loading", f"model v{version} is still loading") from exc


def model_for_analysis(version: str) -> LoadedModel:
    """A model for batch work (off-policy evaluation, explanations, scoring candidates) that never
    changes what serving keeps loaded. Raises ModelUnavailable.

    A version serving has loaded already is shared. Any other is read on the caller's thread into a
    slot of its own that holds one model, so an analyst evaluating candidate after candidate cannot
    push the active models out of the serving cache (a rank call would answer the control design
    while its model reloaded).
    """
    model = _loaded.get(version)
    if model is not None:
        return model
    with _lock:
        held = _analysis_slot.get(version)
    if held is not None:
        return held
    mv = ModelVersion.objects.filter(version=version).first()
    if mv is None:
        raise ModelUnavailable("no_model", f"model version {version} does not exist")
    model = load_from_row(mv)
    with _lock:
        _analysis_slot.clear()
        _analysis_slot[version] = model
    return model


def _loader() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:  # created on first use, so each forked web worker gets its own thread
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido-model-loader")
    return _executor


def _compiler() -> ThreadPoolExecutor:
    global _compile_executor
    if _compile_executor is None:
        _compile_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido-model-compiler")
    return _compile_executor


def wait_for_compiles() -> None:
    """Block until every compile queued so far has finished (tests, benchmarks)."""
    _compiler().submit(lambda: None).result()


def _load_and_keep(mv: ModelVersion) -> LoadedModel:
    try:
        model = load_from_row(mv)
    except Exception as exc:  # unusable for now (anything reading the file counts), retried later
        failure = exc if isinstance(exc, ModelUnavailable) else ModelUnavailable("artefact_corrupt", str(exc))
        log.warning("ranking model v%s unavailable: %s", mv.version, exc,
                    exc_info=not isinstance(exc, ModelUnavailable))  # a traceback for the unexpected
        with _lock:
            _failed[mv.version] = (time.monotonic(), failure)
            _loading.pop(mv.version, None)
        raise failure from exc
    with _lock:
        if len(_loaded) >= 8:  # keep memory bounded: active models plus a few candidates
            _loaded.pop(next(iter(_loaded)))
        _loaded[mv.version] = model
        _failed.pop(mv.version, None)
        _loading.pop(mv.version, None)
    if model.booster is not None and settings.KALEIDO_RANK_COMPILE_MODELS:
        # On its own thread, so a later load never waits behind a compile; the booster serves meanwhile.
        _compiler().submit(_compile, model, mv.artefact_sha256)
    return model


def _compile(model: LoadedModel, sha256: str) -> None:
    from .compiled import compile_forest

    model.compiled = compile_forest(model.booster.model_to_string().encode(), sha256=sha256, booster=model.booster,
                                    categorical=F.categorical_indices(model.spec))


# --- activation and rollback ------------------------------------------------------------------------------

def _same_scope(mv: ModelVersion):
    qs = ModelVersion.objects.filter(scope=mv.scope)
    return qs.filter(placement_id=mv.placement_id) if mv.scope == ModelVersion.Scope.DEDICATED else qs


@transaction.atomic
def activate(*, version: str) -> ModelVersion:
    mv = ModelVersion.objects.select_for_update().get(version=version)
    _same_scope(mv).filter(is_active=True).exclude(pk=mv.pk).update(is_active=False)
    mv.is_active = True
    mv.activated_at = timezone.now()
    mv.save(update_fields=["is_active", "activated_at"])
    _forget_active_table()
    return mv


@transaction.atomic
def rollback(*, placement=None, to_version: str | None = None) -> ModelVersion:
    """Activate `to_version`, or the version that was active before the current one in that scope."""
    if to_version is not None:
        return activate(version=to_version)
    scope = ModelVersion.objects.filter(scope=ModelVersion.Scope.DEDICATED, placement=placement) \
        if placement is not None else ModelVersion.objects.filter(scope=ModelVersion.Scope.GENERAL)
    current = scope.filter(is_active=True).first()
    earlier = scope.filter(activated_at__isnull=False).exclude(pk=getattr(current, "pk", None))
    if current is not None and current.activated_at is not None:
        earlier = earlier.filter(activated_at__lt=current.activated_at)
    previous = earlier.order_by("-activated_at").first()
    if previous is None:
        raise ModelVersion.DoesNotExist("No earlier activated version to roll back to.")
    return activate(version=previous.version)


def _forget_active_table() -> None:
    # Now for this process, and again after commit so no process keeps a table read before the commit;
    # the other processes learn of it from the `models` serving version, bumped once this commits.
    _forget_after_commit()
    transaction.on_commit(_forget_after_commit)
    serving_versions.bump(serving_versions.MODELS)


def _forget_after_commit() -> None:
    _active_tables.invalidate(ACTIVE_KEY)  # with the cache down, other processes re-read within its TTL
