"""Ranking-quality benchmark: share of the oracle's lift over control that each ranker reaches.

    .venv/bin/python bench/learning.py [--worlds 20] [--sizes 5000,60000] [--full] [--write]

Each world is generated from its seed alone, before and independently of any model: user features
(numbers with threshold effects at random cut points, categories with 2–50 levels, booleans, features
with no effect, one feature whose distribution drifts over time, missing values), effects on the click
log-odds (tag main effects, user × tag, user × user × tag, a per-variant quality the tags do not
explain), a catalogue of 20–1,000 variants whose tag groups may alias, and a base click rate of
0.3%–10%. Training logs are uniform-random impressions at position 1, in time order.

Per world and training size, side by side:
  (a) default  — ranking.training.fit_ranker (what `train_ranker` runs after collect_rows: candidates,
                 validation choice, calibration) scored through registry.LoadedModel (what serving
                 scores with), served through ranking.policy with the placement defaults (ε = 0.05
                 settled by the evidence down to the floor, the new-variant share for variants behind
                 their peers: serving.model_policy's rules); also the former fixed rule beside it;
  (b) lgb      — plain LightGBM defaults (100 rounds) on the same matrix, greedy;
  (c) logreg   — logistic regression with user × tag crosses and binned numbers (C = 0.5), greedy.
Lift share = (CTR of the policy − CTR of control) / (CTR of the oracle − CTR of control) on fresh users
drawn after the training window (so the drifting feature has moved); control is the variant with the
median mean CTR. Also holdout AUC and expected calibration error (last 15% of the log).
Training reads what `train_ranker` would read: at most `--max-rows` impressions (KALEIDO_TRAINING_MAX_ROWS,
300,000 by default; 0: the whole log), the most recent ones, as ranking.training.collect_rows caps them; (a),
(b) and (c) all learn from those rows, while the serving policy sees every variant's impressions in the
whole log (the catalogue's counts). The cap only bites above 300,000 (`--full`'s 500,000).
Nothing here is tuned per world. `--write` replaces the `## learning` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "platform"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("DEBUG", "1")  # settings only: the bench touches no database

EVAL_USERS = 3000
EPSILON, NEW_SHARE, NEW_IMPRESSIONS = 0.05, 0.05, 1000  # placement and settings defaults


# --- the world generator (independent of every model) -------------------------------------------------------

@dataclass
class Feature:
    name: str
    kind: str  # num | cat | bool
    missing: float
    drift: float = 0.0  # shift of a number's mean per unit of time, in its own sd
    levels: int = 0
    probs: np.ndarray | None = None
    dist: str = "normal"
    params: tuple = ()

    def sample(self, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        n = len(t)
        if self.kind == "cat":
            return rng.choice(self.levels, size=n, p=self.probs).astype(float)
        if self.kind == "bool":
            return (rng.random(n) < self.params[0]).astype(float)
        if self.dist == "normal":
            mu, sd = self.params
            x = rng.normal(mu, sd, n) + self.drift * sd * t
        elif self.dist == "lognormal":
            x = np.exp(rng.normal(self.params[0], self.params[1], n) + self.drift * t)
        elif self.dist == "int":
            lo, hi = self.params
            x = rng.integers(lo, hi, n).astype(float) + np.round(self.drift * (hi - lo) * t / 4)
        else:  # poisson
            x = rng.poisson(self.params[0] * (1 + self.drift * t)).astype(float)
        return x

    def value(self, x: float):
        if self.kind == "cat":
            return f"c{int(x)}"
        if self.kind == "bool":
            return bool(x)
        return int(x) if self.dist in ("int", "poisson") else round(float(x), 3)


@dataclass
class Segment:
    """A user-side signal in [0, 1] or a level effect: a threshold (or band) on a number, levels, a boolean."""
    feature: int
    kind: str
    cut: tuple = ()
    level_effect: np.ndarray | None = None

    def of(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:
        x = raw[:, self.feature]
        if self.kind == "band":
            s = ((x > self.cut[0]) & (x <= self.cut[1])).astype(float)
        elif self.kind == "above":
            s = (x > self.cut[0]).astype(float)
        elif self.kind == "levels":
            s = self.level_effect[np.nan_to_num(x).astype(int)]
        else:  # bool
            s = x
        return np.where(present[:, self.feature], s, 0.0)


class World:
    def __init__(self, seed: int):
        rng = self.rng = np.random.default_rng(1000 + seed)
        self.seed = seed
        self.features: list[Feature] = []
        n_num, n_cat, n_bool, n_noise = rng.integers(1, 5), rng.integers(1, 4), rng.integers(0, 3), rng.integers(1, 4)
        for i in range(n_num):
            dist = rng.choice(["normal", "lognormal", "int", "poisson"])
            params = {"normal": (rng.normal(0, 50), rng.uniform(1, 30)), "lognormal": (rng.uniform(0, 5), 0.8),
                      "int": (18, 80), "poisson": (rng.uniform(0.5, 6),)}[dist]
            self.features.append(Feature(f"n{i}", "num", rng.uniform(0, 0.2), dist=dist, params=params))
        for i in range(n_cat):
            levels = int(rng.choice([2, 3, 5, 8, 12, 20, 35, 50]))
            probs = rng.dirichlet(np.full(levels, rng.choice([0.5, 1.0, 3.0])))
            self.features.append(Feature(f"k{i}", "cat", rng.uniform(0, 0.15), levels=levels, probs=probs))
        for i in range(n_bool):
            self.features.append(Feature(f"b{i}", "bool", rng.uniform(0, 0.1), params=(rng.uniform(0.1, 0.6),)))
        n_signal = len(self.features)
        for i in range(n_noise):
            kind = rng.choice(["num", "cat", "bool"])
            f = Feature(f"z{i}", str(kind), rng.uniform(0, 0.2), levels=int(rng.integers(2, 30)),
                        dist="normal", params=(0.0, 1.0) if kind == "num" else (0.5,))
            if kind == "cat":
                f.probs = rng.dirichlet(np.ones(f.levels))
            self.features.append(f)
        nums = [i for i, f in enumerate(self.features[:n_signal]) if f.kind == "num"]
        self.drifting = int(rng.choice(nums))
        self.features[self.drifting].drift = float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.8))

        probe = self._raw(rng, np.zeros(20_000))[0]

        def segment(i: int) -> Segment:
            f = self.features[i]
            if f.kind == "num":
                q = np.quantile(probe[:, i], sorted(rng.uniform(0.15, 0.85, 2)))
                return Segment(i, "band" if rng.random() < 0.4 else "above", cut=(q[0], q[1]) if q[1] > q[0]
                               else (q[0], math.inf))
            if f.kind == "cat":
                eff = rng.normal(0, 1, f.levels) * (rng.random(f.levels) < 0.5)
                return Segment(i, "levels", level_effect=eff)
            return Segment(i, "bool")

        # catalogue: tag groups, some aliased to another group
        n_groups = int(rng.integers(2, 6))
        self.groups = [(f"g{g}", [f"v{j}" for j in range(int(rng.integers(2, 9)))]) for g in range(n_groups)]
        self.n_variants = int(round(math.exp(rng.uniform(math.log(20), math.log(1000)))))
        codes = np.stack([rng.integers(len(vals), size=self.n_variants) for _, vals in self.groups], axis=1)
        self.aliased = None
        if n_groups >= 3 and rng.random() < 0.5:
            a, b = 0, n_groups - 1
            mapping = rng.integers(len(self.groups[b][1]), size=len(self.groups[a][1]))
            follow = rng.random(self.n_variants) < 0.9
            codes[follow, b] = mapping[codes[follow, a]]
            self.aliased = (self.groups[a][0], self.groups[b][0])
        self.codes = codes
        self.tags = [{g: [vals[codes[v, gi]]] for gi, (g, vals) in enumerate(self.groups)}
                     for v in range(self.n_variants)]
        self.base_ctr = float(math.exp(rng.uniform(math.log(0.003), math.log(0.10))))
        # effects
        self.tag_main = [rng.normal(0, rng.uniform(0.1, 0.35), len(vals)) for _, vals in self.groups]
        self.quality = rng.normal(0, rng.uniform(0.05, 0.3), self.n_variants)
        signal = list(range(n_signal))
        self.user_main = [(segment(int(i)), rng.normal(0, 0.3)) for i in rng.choice(signal, min(2, n_signal),
                                                                                   replace=False)]
        scale = rng.uniform(0.4, 1.0)
        self.crosses = []  # (segments, group index, effect per value)
        for _ in range(int(rng.integers(2, 6))):
            i = int(rng.choice(signal))
            self.crosses.append(([segment(i)], int(rng.integers(n_groups)), rng.normal(0, scale, 8)))
        if self.drifting not in [c[0][0].feature for c in self.crosses]:
            self.crosses.append(([segment(self.drifting)], int(rng.integers(n_groups)), rng.normal(0, scale, 8)))
        for _ in range(int(rng.integers(0, 3))):
            i, j = rng.choice(signal, 2)
            self.crosses.append(([segment(int(i)), segment(int(j))], int(rng.integers(n_groups)),
                                 rng.normal(0, scale * 1.3, 8)))
        self.user_sd = rng.uniform(0.1, 0.5)
        self.intercept = 0.0
        raw, present = self._raw(rng, np.zeros(5000))
        lo, hi = -12.0, 2.0
        for _ in range(40):  # mean CTR under uniform exposure = base_ctr
            self.intercept = (lo + hi) / 2
            if self.ctr_matrix(raw, present, np.zeros(len(raw))).mean() > self.base_ctr:
                hi = self.intercept
            else:
                lo = self.intercept

    def _raw(self, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = np.stack([f.sample(rng, t) for f in self.features], axis=1)
        present = np.stack([rng.random(len(t)) >= f.missing for f in self.features], axis=1)
        return raw, present

    def users(self, n: int, t: np.ndarray, rng: np.random.Generator):
        raw, present = self._raw(rng, t)
        noise = rng.normal(0, self.user_sd, n)
        rows = []
        for r in range(n):
            rows.append({f.name: f.value(raw[r, c]) for c, f in enumerate(self.features) if present[r, c]})
        return raw, present, noise, rows

    def ctr_matrix(self, raw: np.ndarray, present: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """True click probability of every (user, variant): shape (users, variants)."""
        user = self.intercept + noise + sum(seg.of(raw, present) * w for seg, w in self.user_main)
        item = self.quality + sum(eff[self.codes[:, g]] for g, eff in enumerate(self.tag_main))
        logit = user[:, None] + item[None, :]
        for segments, g, eff in self.crosses:
            s = np.prod([seg.of(raw, present) for seg in segments], axis=0)
            logit += s[:, None] * eff[self.codes[:, g] % len(eff)][None, :]
        return 1.0 / (1.0 + np.exp(-logit))

    def log(self, n: int):
        """n uniform-random impressions at position 1, in time order over t ∈ [0, 1)."""
        rng = np.random.default_rng(self.seed * 7919 + n)
        t = np.sort(rng.random(n))
        raw, present, noise, rows = self.users(n, t, rng)
        shown = rng.integers(self.n_variants, size=n)
        p = np.empty(n)
        for start in range(0, n, 20_000):
            sl = slice(start, start + 20_000)
            p[sl] = self.ctr_matrix(raw[sl], present[sl], noise[sl])[np.arange(len(p[sl])), shown[sl]]
        clicks = (rng.random(n) < p).astype(float)
        return rows, shown, clicks, t

    def describe(self) -> str:
        kinds = "".join(f.kind[0] for f in self.features)
        return (f"{self.n_variants:4d} variants, {len(self.groups)} groups{' (aliased)' if self.aliased else ''}, "
                f"features {kinds}, base CTR {self.base_ctr:.2%}")


# --- the contenders ----------------------------------------------------------------------------------------

def training_data(world: World, rows, shown, clicks, t):
    from ranking.training import TrainingData

    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = np.arange(1, world.n_variants + 1)
    return TrainingData(
        feature_rows=rows, variant_ids=ids[shown].astype(np.int64), positions=np.ones(len(rows)),
        labels=clicks, weights=np.ones(len(rows)), times=[start + timedelta(days=30 * x) for x in t],
        tags_by_variant={int(i): world.tags[i - 1] for i in ids})


def score_all(model, spec, world: World, eval_rows) -> np.ndarray:
    """Scores of every (eval user, variant) through LoadedModel.predict, the code serving scores with."""
    from ranking import features as F

    users = F.user_codes(spec, eval_rows)
    tags = F.tag_matrix(spec, world.tags)
    codes = F.variant_codes(spec, list(range(1, world.n_variants + 1)))
    n, v = len(eval_rows), world.n_variants
    out = np.empty((n, v))
    per = max(1, 200_000 // v)
    for s in range(0, n, per):
        b = users[s:s + per]
        out[s:s + len(b)] = model.predict(users=np.repeat(b, v, axis=0), tags=np.tile(tags, (len(b), 1)),
                                          vcodes=np.tile(codes, len(b)), positions=np.ones(len(b) * v)
                                          ).reshape(len(b), v)
    return out


THOMPSON_EPSILON, THOMPSON_DRAWS = 0.01, 32  # a Thompson placement with a 1% uniform floor; serving draws 32


def policy_ctr(scores: np.ndarray, truth: np.ndarray, impressions: np.ndarray, *, epsilon: float | None = None,
               former: bool = False, thompson: bool = False, prior_sd: float = 0.15, seed: int = 0) -> float:
    """Expected CTR of the model bucket's serving policy (ranking.policy, exact first-position probabilities):
    ε-greedy, or Thompson over posterior draws with the posterior sd serving uses (policy.posterior_sd, from
    the model's own prior for a variant's effect).

    epsilon=None: the placement default settled by the evidence (policy.settled_epsilon with the settings
    serving uses), and the new-variant share judged against the pool's mean (policy.new_variants), as
    serving.model_policy does. former=True: the former rule, a fixed ε and every variant under the
    placement's threshold "new"."""
    from django.conf import settings

    from ranking import policy as P

    if former:
        new_mask = impressions < NEW_IMPRESSIONS
        eps = EPSILON if epsilon is None else epsilon
    else:
        new_mask = P.new_variants(impressions, threshold=NEW_IMPRESSIONS,
                                  relative=settings.KALEIDO_NEW_VARIANT_RELATIVE)
        eps = epsilon if epsilon is not None else P.settled_epsilon(
            EPSILON, impressions, floor=settings.KALEIDO_EXPLORATION_FLOOR,
            settle_impressions=settings.KALEIDO_EXPLORATION_SETTLE_IMPRESSIONS)
    noise = np.random.default_rng(seed).standard_normal((THOMPSON_DRAWS, scores.shape[1])) if thompson else None
    total = 0.0
    for i in range(len(scores)):
        heads = None
        if noise is not None:
            heads = P.thompson_heads(scores[i], P.posterior_sd(scores[i], impressions, prior_sd), noise)
        pol = P.SlatePolicy(scores=scores[i], epsilon=eps, new_mask=new_mask, new_share=NEW_SHARE, heads=heads)
        total += float(P.first_position_probabilities(pol) @ truth[i])
    return total / len(scores)


def greedy_ctr(scores: np.ndarray, truth: np.ndarray) -> float:
    return float(truth[np.arange(len(scores)), np.argmax(scores, axis=1)].mean())


def most_recent(max_rows: int, rows, shown, clicks, t):
    """The last `max_rows` impressions of a log in time order (all of it when max_rows is 0 or the log is
    shorter): collect_rows' cap (KALEIDO_TRAINING_MAX_ROWS), whose rule is training.SAMPLING_RULE."""
    if not max_rows or len(shown) <= max_rows:
        return rows, shown, clicks, t
    return rows[-max_rows:], shown[-max_rows:], clicks[-max_rows:], t[-max_rows:]


def run_world(world: World, n: int, threads: int, max_rows: int = 0) -> dict:
    import lightgbm as lgb

    from ranking import features as F
    from ranking import training
    from ranking.registry import LoadedModel

    rows, shown, clicks, t = world.log(n)
    # Serving counts every impression of the log; training reads only the most recent max_rows of them.
    impressions = np.bincount(shown, minlength=world.n_variants)
    rows, shown, clicks, t = most_recent(max_rows, rows, shown, clicks, t)
    data = training_data(world, rows, shown, clicks, t)
    rng = np.random.default_rng(world.seed + 99)
    t_eval = rng.uniform(1.0, 1.1, EVAL_USERS)
    raw, present, noise, eval_rows = world.users(EVAL_USERS, t_eval, rng)
    truth = world.ctr_matrix(raw, present, noise)
    means = truth.mean(axis=0)
    control = int(np.argsort(means)[len(means) // 2])
    base, oracle = float(truth[:, control].mean()), float(truth.max(axis=1).mean())

    def share(ctr: float) -> float:
        return (ctr - base) / (oracle - base) if oracle > base else float("nan")

    out = {"world": world.seed, "n": n, "trained_rows": len(shown), "clicks": int(clicks.sum()),
           "oracle_lift": oracle / base - 1}
    n = len(shown)  # from here on: the rows trained on (fewer than the log's when capped)
    started = time.perf_counter()
    fitted = training.fit_ranker(data, threads=threads)
    out["fit_s"] = time.perf_counter() - started
    out["candidate"] = fitted.params["candidate"]
    scores = score_all(fitted.model, fitted.spec, world, eval_rows)
    out["default"] = share(policy_ctr(scores, truth, impressions))
    out["former_default"] = share(policy_ctr(scores, truth, impressions, former=True))
    out["thompson"] = share(policy_ctr(scores, truth, impressions, epsilon=THOMPSON_EPSILON, thompson=True,
                                       prior_sd=fitted.spec["variant_effect_sd"], seed=world.seed))
    out["epsilon_floor"] = share(policy_ctr(scores, truth, impressions, epsilon=THOMPSON_EPSILON))
    out["default_greedy"] = share(greedy_ctr(scores, truth))
    out["default_auc"], out["default_ece"] = fitted.metrics["auc"], fitted.metrics["calibration_error"]
    # What the activation gate's holdout checks would say (no champion): AUC ≥ 0.5, log loss below the mean's
    # by more than the noise of the holdout (ranking.gate.gain_is_real).
    from ranking.gate import gain_is_real

    logloss, baseline = fitted.metrics["logloss"], fitted.baseline_logloss
    out["beats_baseline"] = bool(logloss is not None and baseline is not None and logloss < baseline
                                 and (fitted.metrics["auc"] or 0) >= 0.5
                                 and gain_is_real(fitted.params["logloss_gain"], fitted.params["logloss_gain_se"]))

    ho = fitted.holdout
    tr, va, hs = training.split_indices(n)
    # The baselines see the same features, without anything the default learnt (its quality offsets).
    spec = {k: v for k, v in fitted.spec.items() if k not in ("variant_offset", "calibration")}
    users = F.user_codes(spec, rows)
    tags_all = F.tag_matrix(spec, [world.tags[s] for s in shown])
    vcodes = F.variant_codes(spec, (shown + 1).tolist())
    x = F.lgb_matrix(spec, users=users, tags=tags_all, variant_codes_=vcodes, positions=np.ones(n))
    fit_to = va.stop  # baselines learn from train + validation
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": threads},
                        lgb.Dataset(x[:fit_to], clicks[:fit_to], categorical_feature=F.categorical_indices(spec)),
                        num_boost_round=100)
    plain = LoadedModel(version="-", algo="lightgbm", spec={**spec, "calibration": None}, booster=booster)
    out["lgb"] = share(greedy_ctr(score_all(plain, plain.spec, world, eval_rows), truth))
    m = training.holdout_metrics(ho["labels"], plain.predict_matrix(x[hs]))
    out["lgb_auc"], out["lgb_ece"] = m["auc"], m["calibration_error"]

    coef = training.fit_logreg(users=users, tags=tags_all, positions=np.ones(n), y=clicks, w=np.ones(n),
                               spec=spec, c=0.5)  # fits the training split, as the default does
    logreg = LoadedModel(version="-", algo="logreg", spec=spec, coef=coef)
    out["logreg"] = share(greedy_ctr(score_all(logreg, spec, world, eval_rows), truth))
    m = training.holdout_metrics(ho["labels"], logreg.predict(users=users[hs], tags=tags_all[hs], vcodes=vcodes[hs],
                                                             positions=np.ones(len(ho["labels"]))))
    out["logreg_auc"], out["logreg_ece"] = m["auc"], m["calibration_error"]
    return out


def _pct(values: list[float], q: float) -> float:
    v = sorted(x for x in values if x is not None and not math.isnan(x))
    return float(np.percentile(v, q)) if v else float("nan")


def summary(results: list[dict], n: int) -> list[str]:
    rs = [r for r in results if r["n"] == n]
    lines = [f"| {n:,} impressions ({len(rs)} worlds) | median | 10th pct |", "|---|---|---|"]
    for key, label in [("default", "(a) default, with exploration"),
                       ("former_default", f"(a) former exploration: fixed ε = {EPSILON}, new while < {NEW_IMPRESSIONS:,}"),
                       ("thompson", f"(a) Thompson, posterior sd, ε = {THOMPSON_EPSILON}"),
                       ("epsilon_floor", f"(a) ε-greedy, ε = {THOMPSON_EPSILON}"),
                       ("default_greedy", "(a) default, greedy"),
                       ("lgb", "(b) plain LightGBM, greedy"), ("logreg", "(c) logreg × crosses, greedy")]:
        vals = [r.get(key) for r in rs]
        lines.append(f"| {label}: share of oracle lift | {_pct(vals, 50):.0%} | {_pct(vals, 10):.0%} |")
    for key, label in [("default", "(a)"), ("lgb", "(b)"), ("logreg", "(c)")]:
        auc, ece = [r[f"{key}_auc"] for r in rs], [r[f"{key}_ece"] for r in rs]
        lines.append(f"| {label} holdout AUC / calibration error | {_pct(auc, 50):.3f} / {_pct(ece, 50):.4f} | "
                     f"{_pct(auc, 10):.3f} / {_pct(ece, 90):.4f} (90th) |")
    passed = sum(r["beats_baseline"] for r in rs)
    lines.append(f"| (a) beats the mean-CTR baseline on its holdout (the gate's checks) | {passed} of {len(rs)} worlds | |")
    chosen: dict[str, int] = {}
    for r in rs:
        chosen[r["candidate"]] = chosen.get(r["candidate"], 0) + 1
    lines.append("| (a) candidate chosen on validation | " + ", ".join(f"{k} ×{v}" for k, v in sorted(chosen.items()))
                 + " | |")
    return lines


# --- the general model on a long-tail placement ---------------------------------------------------------------

# Four placements share one world's users and preferences; cards differ from banners by a surface effect on
# one tag group and one user × tag cross of their own. The last card placement gets 2% of the traffic.
GENERAL_PLACEMENTS = (("home-banner", "banner", 0.45), ("tab-card", "card", 0.35), ("feed-banner", "banner", 0.18),
                      ("tail-card", "card", 0.02))


class MultiPlacementWorld:
    def __init__(self, world: World):
        self.world = world
        rng = np.random.default_rng(5000 + world.seed)  # drawn from the seed alone, before any model
        self.placement = rng.integers(len(GENERAL_PLACEMENTS), size=world.n_variants)
        self.placement[: len(GENERAL_PLACEMENTS)] = np.arange(len(GENERAL_PLACEMENTS))  # none empty
        self.is_card = np.array([GENERAL_PLACEMENTS[p][1] == "card" for p in self.placement])
        g = int(rng.integers(len(world.groups)))
        self.card_tag = rng.normal(0, 0.6, 8)[world.codes[:, g] % 8] * self.is_card
        signal = [i for i, f in enumerate(world.features) if not f.name.startswith("z")]
        i = int(rng.choice(signal))
        probe_rng = np.random.default_rng(6000 + world.seed)
        probe = world._raw(probe_rng, np.zeros(20_000))[0]
        f = world.features[i]
        if f.kind == "num":
            self.card_segment = Segment(i, "above", cut=(float(np.quantile(probe[:, i], rng.uniform(0.2, 0.8))),))
        elif f.kind == "cat":
            self.card_segment = Segment(i, "levels", level_effect=rng.normal(0, 1, f.levels))
        else:
            self.card_segment = Segment(i, "bool")
        g2 = int(rng.integers(len(world.groups)))
        self.card_cross_eff = rng.normal(0, 0.8, 8)[world.codes[:, g2] % 8] * self.is_card

    def ctr(self, raw: np.ndarray, present: np.ndarray, noise: np.ndarray) -> np.ndarray:
        p = np.clip(self.world.ctr_matrix(raw, present, noise), 1e-9, 1 - 1e-9)
        logit = np.log(p / (1 - p)) + self.card_tag[None, :]
        logit += self.card_segment.of(raw, present)[:, None] * self.card_cross_eff[None, :]
        return 1.0 / (1.0 + np.exp(-logit))

    def log(self, n: int):
        w = self.world
        rng = np.random.default_rng(w.seed * 104729 + n)
        t = np.sort(rng.random(n))
        raw, present, noise, rows = w.users(n, t, rng)
        where = rng.choice(len(GENERAL_PLACEMENTS), size=n, p=[s for _, _, s in GENERAL_PLACEMENTS])
        members = [np.flatnonzero(self.placement == p) for p in range(len(GENERAL_PLACEMENTS))]
        shown = np.array([members[p][rng.integers(len(members[p]))] for p in where])
        prob = np.empty(n)
        for start in range(0, n, 20_000):
            sl = slice(start, start + 20_000)
            prob[sl] = self.ctr(raw[sl], present[sl], noise[sl])[np.arange(len(prob[sl])), shown[sl]]
        clicks = (rng.random(n) < prob).astype(float)
        return rows, shown, clicks, t


def run_general(world: World, n: int, threads: int) -> dict:
    """Share of the oracle's lift on the 2%-traffic card placement reached by (i) its own dedicated model,
    (ii) a model over every placement's rows without placement features (the general model before),
    (iii) the general model with placement and surface features (`fit_ranker(general=True)`)."""
    from ranking import training

    multi = MultiPlacementWorld(world)
    rows, shown, clicks, t = multi.log(n)
    data = training_data(world, rows, shown, clicks, t)
    data.context_by_variant = {int(v) + 1: GENERAL_PLACEMENTS[p][:2] for v, p in enumerate(multi.placement)}
    tail = np.flatnonzero(multi.placement == len(GENERAL_PLACEMENTS) - 1)
    rng = np.random.default_rng(world.seed + 199)
    raw, present, noise, eval_rows = world.users(EVAL_USERS, rng.uniform(1.0, 1.1, EVAL_USERS), rng)
    truth = multi.ctr(raw, present, noise)[:, tail]
    means = truth.mean(axis=0)
    control = int(np.argsort(means)[len(means) // 2])
    base, oracle = float(truth[:, control].mean()), float(truth.max(axis=1).mean())

    def share(fitted) -> float:
        if fitted is None:
            return 0.0  # no model: the placement serves its control design
        scores = score_all(fitted.model, fitted.spec, world, eval_rows)[:, tail]
        return (greedy_ctr(scores, truth) - base) / (oracle - base) if oracle > base else float("nan")

    own = np.isin(shown, tail)
    out = {"world": world.seed, "n": n, "tail_rows": int(own.sum()), "tail_clicks": int(clicks[own].sum()),
           "tail_variants": len(tail)}
    dedicated = None
    if own.sum() >= 500 and clicks[own].sum() > 0:  # KALEIDO_TRAIN_MIN_ROWS
        sub = training_data(world, [rows[i] for i in np.flatnonzero(own)], shown[own], clicks[own], t[own])
        dedicated = training.fit_ranker(sub, threads=threads)
    out["dedicated"] = share(dedicated)
    out["pooled"] = share(training.fit_ranker(data, threads=threads))
    out["general"] = share(training.fit_ranker(data, threads=threads, general=True))
    return out


def general_summary(results: list[dict]) -> list[str]:
    n = results[0]["n"]
    lines = [f"| tail card placement, {n:,} impressions over 4 placements ({len(results)} worlds) | median | "
             "10th pct |", "|---|---|---|"]
    for key, label in [("dedicated", "(i) its own dedicated model (control when under 500 rows)"),
                       ("pooled", "(ii) every placement's rows, no placement features"),
                       ("general", "(iii) general model with placement and surface features")]:
        vals = [r[key] for r in results]
        lines.append(f"| {label} | {_pct(vals, 50):.0%} | {_pct(vals, 10):.0%} |")
    gains = [r["general"] - r["pooled"] for r in results]
    lines.append(f"| (iii) − (ii), points | {_pct(gains, 50) * 100:+.0f} | {_pct(gains, 10) * 100:+.0f} |")
    return lines


def _append(path: str | None, row: dict) -> None:
    if path:
        import json

        with open(path, "a") as f:
            f.write(json.dumps(row, default=float) + "\n")


def print_world(r: dict) -> None:
    trained = f" (trained on the last {r['trained_rows']:,})" if r.get("trained_rows", r["n"]) < r["n"] else ""
    print(f"  {r['n']:>7,}{trained}: clicks {r['clicks']:6d}  oracle lift {r['oracle_lift']:+.0%}  default "
          f"{r['default']:.0%} (former {r['former_default']:.0%}, greedy {r['default_greedy']:.0%}, thompson {r['thompson']:.0%}, {r['candidate']}, "
          f"{r['fit_s']:.0f}s)  "
          f"lgb {r['lgb']:.0%}  logreg {r['logreg']:.0%}  AUC {r['default_auc'] or float('nan'):.3f}/"
          f"{r['lgb_auc'] or float('nan'):.3f}/{r['logreg_auc'] or float('nan'):.3f}  ECE "
          f"{r['default_ece'] or float('nan'):.4f}/{r['lgb_ece'] or float('nan'):.4f}/"
          f"{r['logreg_ece'] or float('nan'):.4f}  beats baseline {r['beats_baseline']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="seed of the first world")
    parser.add_argument("--sizes", default="5000,60000")
    parser.add_argument("--full", action="store_true", help="also 500,000 impressions (slow on 2 cores)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--general-worlds", type=int, default=3,
                        help="worlds (the first ones) of the long-tail placement experiment, at 60,000 impressions")
    parser.add_argument("--general-only", action="store_true", help="only the long-tail placement experiment")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="impressions training reads, the most recent (default KALEIDO_TRAINING_MAX_ROWS; 0: all)")
    parser.add_argument("--jsonl", help="also append every world's result to this file as one JSON line")
    parser.add_argument("--time-limit", type=float, default=0,
                        help="seconds after which no new world is started (0: none); the summary says how many ran")
    parser.add_argument("--write", action="store_true", help="replace the learning section of bench/RESULTS.md")
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings

    if args.max_rows is None:
        args.max_rows = int(settings.KALEIDO_TRAINING_MAX_ROWS)
    sizes = [int(s) for s in args.sizes.split(",")] + ([500_000] if args.full else [])
    if args.general_only:
        sizes = [60_000]
    results, general = [], []
    started = time.monotonic()
    for seed in range(args.first, args.first + args.worlds):
        if args.time_limit and time.monotonic() - started > args.time_limit:
            print(f"time limit reached: {seed - args.first} of {args.worlds} worlds run", flush=True)
            break
        world = World(seed)
        print(f"world {seed:2d}: {world.describe()}", flush=True)
        for n in sizes:
            r = run_world(world, n, args.threads, args.max_rows) if not args.general_only else None
            if r is not None:
                results.append(r)
                print_world(r)
                _append(args.jsonl, r)
            if n == 60_000 and seed < args.first + args.general_worlds:
                g = run_general(world, 60_000, args.threads)
                general.append(g)
                _append(args.jsonl, {"general": True, **g})
                print(f"  general: tail {g['tail_rows']} rows, {g['tail_clicks']} clicks, {g['tail_variants']} "
                      f"variants: dedicated {g['dedicated']:.0%}  pooled {g['pooled']:.0%}  general "
                      f"{g['general']:.0%}", flush=True)
    lines = []
    for n in sizes:
        if any(r["n"] == n for r in results):
            lines += summary(results, n) + [""]
    if general:
        lines += general_summary(general) + [""]
    print("\n".join(lines))
    if args.write:
        write_results(lines, args, sizes)


def write_results(lines: list[str], args, sizes: list[int]) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else ""
    head = (f"## learning\n\n`.venv/bin/python bench/learning.py --worlds {args.worlds} --sizes "
            f"{','.join(map(str, sizes))}` — {datetime.now(UTC):%Y-%m-%d}, {args.threads} threads.\n\n"
            "Share of the oracle's lift over control on fresh users after the training window; see the "
            "docstring of bench/learning.py and docs/ranking.md.\n\n")
    section = head + "\n".join(lines) + "\n"
    marker = "## learning"
    if marker in text:
        before, rest = text.split(marker, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
