"""The OPE estimators on planted worlds where the target policy's true CTR is known exactly.

A world: K user types, n variants, a true click probability per (type, variant) on the log-odds scale,
and a per-user taste for clicking anything (so a user's rows are correlated). A candidate model's scores
are the truth plus error; the target is the model bucket's policy on them, built by ranking.policy.
Its true CTR integrates the taste out with Gauss-Hermite quadrature, so coverage is checked against
the estimand itself, over many seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics import ope
from ranking import policy as P

TASTE_SD = 0.6
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _world(seed: int, *, types: int = 6, n: int = 20, thompson: bool = False, new: int = 0):
    rng = np.random.default_rng(seed)
    logits = np.log(0.05 / 0.95) + rng.normal(0, 0.5, size=n)[None, :] + rng.normal(0, 0.6, size=(types, n))
    scores = _sigmoid(logits + rng.normal(0, 0.4, size=logits.shape))  # the candidate: truth plus error
    new_mask = np.zeros(n, dtype=bool)
    new_mask[:new] = True
    noise = rng.standard_normal((32, n))
    pi = np.empty((types, n))
    for x in range(types):
        heads = P.thompson_heads(scores[x], np.full(n, 0.5), noise) if thompson else None
        pol = P.SlatePolicy(scores=scores[x], epsilon=0.1, new_mask=new_mask, new_share=0.05, heads=heads)
        pi[x] = P.first_position_probabilities(pol)
    # E over the taste t ~ N(0, TASTE_SD²) of sigmoid(logit + t): the per-type true click probability.
    true_ctr = (_sigmoid(logits[..., None] + TASTE_SD * _NODES) * _WEIGHTS).sum(axis=-1)
    return logits, scores, pi, true_ctr


def _log(seed: int, logits, scores, *, users: int, logging: str):
    """Logged position-1 rows: 1–6 rows per user (count independent of type), clicks with the user's taste."""
    rng = np.random.default_rng(10_000 + seed)
    types, n = logits.shape
    user_type = rng.integers(types, size=users)
    taste = rng.normal(0, TASTE_SD, size=users)
    per_user = rng.integers(1, 7, size=users)
    user = np.repeat(np.arange(users), per_user)
    x = user_type[user]
    if logging == "uniform":
        mu = np.full((len(user), n), 1.0 / n)
    else:  # a logging policy that avoids what the candidate likes: heavy weights on the target's choices
        mu = np.exp(-4.0 * scores[x] / scores[x].max(axis=1, keepdims=True))
        mu = 0.02 / n + (1 - 0.02) * mu / mu.sum(axis=1, keepdims=True)
    shown = np.array([rng.choice(n, p=row) for row in mu]) if logging != "uniform" else rng.integers(n, size=len(user))
    clicked = rng.random(len(user)) < _sigmoid(logits[x, shown] + taste[user])
    feedback = ope.LoggedFeedback(users=user, logged=shown, propensity=mu[np.arange(len(user)), shown],
                                  clicked=clicked.astype(float))
    return feedback, x


def _coverage(*, seeds: int, users: int, logging: str, thompson: bool = False, new: int = 0, methods=None):
    """Share of seeds whose headline interval covers the truth, per estimator, and the mean error.

    Also covered: "bca" (every estimator's BCa interval) and "guaranteed" (the betting interval);
    `methods` collects each seed's `interval_method`."""
    covered = {name: 0 for name in ("ips", "snips", "dr", "bca_ips", "bca_snips", "bca_dr", "guaranteed")}
    errors = {name: [] for name in ("ips", "snips", "dr")}
    for seed in range(seeds):
        logits, scores, pi, true_ctr = _world(seed, thompson=thompson, new=new)
        feedback, x = _log(seed, logits, scores, users=users, logging=logging)
        truth = float((pi * true_ctr).sum(axis=1).mean())  # types are equally likely
        result = ope.estimate(feedback, pi[x], scores[x], n_boot=300, seed=seed)
        for name, est in result["estimates"].items():
            covered[name] += est["ci"][0] <= truth <= est["ci"][1]
            covered[f"bca_{name}"] += est["ci_bca"][0] <= truth <= est["ci_bca"][1]
            errors[name].append(est["ctr"] - truth)
        covered["guaranteed"] += result["guaranteed_ci"][0] <= truth <= result["guaranteed_ci"][1]
        if methods is not None:
            methods.append(result["interval_method"])
    return {name: c / seeds for name, c in covered.items()}, {name: float(np.mean(e)) for name, e in errors.items()}


@pytest.mark.slow  # many seeded worlds of pure statistics: once, in the PostgreSQL stage
def test_intervals_cover_the_target_ctr_from_a_uniform_log_over_many_seeds():
    coverage, bias = _coverage(seeds=200, users=1500, logging="uniform")
    print("\nuniform log coverage", coverage, "mean error", bias)
    assert all(c >= 0.9 for c in coverage.values()), coverage
    assert all(abs(b) < 0.004 for b in bias.values()), bias


@pytest.mark.slow  # many seeded worlds of pure statistics: once, in the PostgreSQL stage
def test_intervals_hold_under_heavy_weights_over_many_seeds():
    # The logging policy shows the candidate's favourites least: weights reach ~350 and the effective
    # sample size is ~20 of ~5,200 rows. BCa alone under-covers there (measured over these 200 seeds:
    # IPS 0.905, SNIPS 0.925, DR 0.885), so the answer's interval is the betting one, which holds.
    methods: list[str] = []
    coverage, _ = _coverage(seeds=200, users=1500, logging="adversarial", methods=methods)
    print("\nheavy-weight coverage", coverage)
    assert set(methods) == {"betting_by_user"}
    assert all(coverage[name] >= 0.95 for name in ("ips", "snips", "dr", "guaranteed")), coverage
    assert min(coverage[name] for name in ("bca_ips", "bca_snips", "bca_dr")) < 0.95, coverage  # why it switches


def test_the_betting_interval_holds_on_a_uniform_log_too_and_stays_informative():
    # Where BCa is trusted (light weights) the betting interval is still reported, valid and narrower
    # than the [0, 1] a bound that reads the largest weight would give.
    methods: list[str] = []
    coverage, _ = _coverage(seeds=60, users=1500, logging="uniform", methods=methods)
    assert set(methods) == {"bca_bootstrap_by_user"}
    assert coverage["guaranteed"] >= 0.95, coverage
    logits, scores, pi, _ = _world(3)
    feedback, x = _log(3, logits, scores, users=1500, logging="uniform")
    low, high = ope.estimate(feedback, pi[x], scores[x], n_boot=100)["guaranteed_ci"]
    assert 0 < low < high < 0.5


def test_the_betting_interval_never_depends_on_the_largest_weight():
    # One row with a weight of a million and no click: the lower side does not move, where an
    # empirical-Bernstein bound's width would grow with the weight.
    rng = np.random.default_rng(0)
    users = np.arange(2000)
    w = np.ones(2000)
    r = (rng.random(2000) < 0.1).astype(float)
    base_low, base_high = ope.betting_interval(users, w, r)
    assert 0.075 < base_low < r.mean() < base_high < 0.135
    w_heavy = w.copy()
    w_heavy[int(np.flatnonzero(r == 0)[0])] = 1e6
    heavy_low, heavy_high = ope.betting_interval(users, w_heavy, r)
    assert heavy_low == pytest.approx(base_low)
    assert heavy_low <= heavy_high <= base_high  # such a weight says the clicks' share is small, never large


def test_thompson_and_new_variant_targets_are_estimated_without_bias():
    coverage, bias = _coverage(seeds=120, users=1500, logging="uniform", thompson=True, new=3)
    print("\nthompson + new coverage", coverage, "mean error", bias)
    assert all(c >= 0.9 for c in coverage.values()), coverage
    assert all(abs(b) < 0.004 for b in bias.values()), bias


def test_a_row_bootstrap_would_under_cover_what_the_user_bootstrap_covers():
    # Users who click a lot click a lot everywhere: 20 rows each, a strong taste, 3 variants logged uniformly.
    rng = np.random.default_rng(5)
    logits = np.array([[-1.0, 0.0, -0.5]])
    user = np.repeat(np.arange(300), 20)
    taste = rng.normal(0, 2.0, size=300)[user]
    shown = rng.integers(3, size=len(user))
    clicked = (rng.random(len(user)) < _sigmoid(logits[0, shown] + taste)).astype(float)
    mu = np.full(len(user), 1.0 / 3)
    pi = np.tile([0.05, 0.9, 0.05], (len(user), 1))
    q = np.tile(_sigmoid(logits[0]), (len(user), 1))
    by_user = ope.estimate(ope.LoggedFeedback(user, shown, mu, clicked), pi, q, seed=1)
    by_row = ope.estimate(ope.LoggedFeedback(np.arange(len(user)), shown, mu, clicked), pi, q, seed=1)

    def width(result, name):
        low, high = result["estimates"][name]["ci"]
        return high - low

    for name in ("ips", "dr"):
        assert width(by_user, name) > 1.5 * width(by_row, name), name
    assert by_user["users"] == 300 and by_row["users"] == len(user)


def test_unsupported_variants_are_the_ones_the_target_can_show_but_no_row_shows():
    pi = np.array([[0.7, 0.1, 0.1, 0.1, 0.0], [0.1, 0.7, 0.1, 0.1, 0.0]])
    idx, share = ope.unsupported(pi, np.array([0, 1]))
    assert idx.tolist() == [2, 3] and share.tolist() == pytest.approx([0.1, 0.1])


def test_an_interval_never_leaves_the_range_a_ctr_can_take():
    # A direct model that badly over-predicts and a 1% click rate: DR terms go negative, the interval stops at 0.
    rng = np.random.default_rng(3)
    rows = 200
    shown = rng.integers(4, size=rows)
    feedback = ope.LoggedFeedback(np.arange(rows), shown, np.full(rows, 0.25), (rng.random(rows) < 0.01) * 1.0)
    pi = np.tile([0.97, 0.01, 0.01, 0.01], (rows, 1))
    result = ope.estimate(feedback, pi, np.full((rows, 4), 0.9), seed=0)
    for est in result["estimates"].values():
        assert 0.0 <= est["ci"][0] <= est["ci"][1] <= 1.0
    assert result["estimates"]["dr"]["ci_bca"][0] == 0.0  # its bootstrap reaches below 0: cut there
