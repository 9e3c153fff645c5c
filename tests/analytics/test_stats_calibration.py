"""The report's statistics keep their promises over many simulated experiments (vectorised numpy)."""

from __future__ import annotations

import numpy as np

from analytics import stats

EXPERIMENTS = 500


def _users(rng, shape, ctr=0.05, concentration=4.0):
    """Per-user impressions and clicks with user-level heterogeneity (what makes binomial CIs too narrow)."""
    impressions = 1 + rng.poisson(4.0, size=shape)
    p = rng.beta(ctr * concentration, (1 - ctr) * concentration, size=shape)
    clicks = rng.binomial(impressions, p)
    return clicks, impressions


def test_a_a_experiments_reject_at_the_nominal_five_percent():
    rng = np.random.default_rng(7)
    a = stats.RatioStats.from_units(*_users(rng, (EXPERIMENTS, 3000)))
    b = stats.RatioStats.from_units(*_users(rng, (EXPERIMENTS, 3000)))

    result = stats.lift(stats.ratio_delta(b), stats.ratio_delta(a))

    false_positive_rate = np.mean(result.p_value < 0.05)
    assert 0.03 <= false_positive_rate <= 0.07


def test_peeking_every_day_at_the_always_valid_interval_stays_under_five_percent():
    rng = np.random.default_rng(11)
    days, per_day = 14, 400
    shape = (EXPERIMENTS, days, per_day)
    a = stats.RatioStats.from_units(*_users(rng, shape)).cumsum(axis=1)  # (experiments, days): all users so far
    b = stats.RatioStats.from_units(*_users(rng, shape)).cumsum(axis=1)
    diff = stats.lift(stats.ratio_delta(b), stats.ratio_delta(a))

    radius = stats.cs_radius(np.sqrt(diff.absolute_var), stats.effective_n(a.n, b.n))
    ever_excludes_zero = (np.abs(diff.absolute) > radius).any(axis=1)
    naive_peeking = (diff.p_value < 0.05).any(axis=1)

    assert ever_excludes_zero.mean() <= 0.05
    assert naive_peeking.mean() > 0.10  # why the sequential interval exists


def test_delta_method_intervals_cover_the_true_ctr_at_about_95_percent_where_binomial_ones_do_not():
    rng = np.random.default_rng(3)
    clicks, impressions = _users(rng, (EXPERIMENTS, 2000))
    ratio, var = stats.ratio_delta(stats.RatioStats.from_units(clicks, impressions))
    low, high = stats.normal_ci(ratio, var)
    coverage = np.mean((low <= 0.05) & (0.05 <= high))

    binomial_low, binomial_high = stats.wilson_interval(clicks.sum(axis=1), impressions.sum(axis=1))
    binomial_coverage = np.mean((binomial_low <= 0.05) & (0.05 <= binomial_high))

    assert 0.93 <= coverage <= 0.97
    assert binomial_coverage < 0.90


def test_srm_flags_a_50_25_to_49_75_split_of_a_million_users_but_not_a_fair_one():
    rng = np.random.default_rng(5)
    skewed = rng.multinomial(1_000_000, [0.5025, 0.4975])
    fair = rng.multinomial(1_000_000, [0.5, 0.5], size=EXPERIMENTS)

    assert stats.srm_p_value(skewed, [0.5, 0.5]) < stats.SRM_ALPHA
    assert np.mean(stats.srm_p_value(fair, [0.5, 0.5]) < stats.SRM_ALPHA) <= 0.01


def test_cuped_removes_variance_explained_by_pre_period_ctr_without_biasing_the_lift():
    rng = np.random.default_rng(9)
    n = 4000
    p_user = rng.beta(0.4, 7.6, size=(2, n))
    imps, pre_imps = 1 + rng.poisson(5, (2, n)), 1 + rng.poisson(5, (2, n))
    clicks, pre_clicks = rng.binomial(imps, p_user), rng.binomial(pre_imps, p_user)
    arms = [(clicks[i], imps[i], pre_clicks[i], pre_imps[i]) for i in range(2)]

    adjusted, theta = stats.cuped_ratio(arms)

    assert theta > 0
    for arm in adjusted:
        assert arm.variance < 0.9 * arm.variance_unadjusted
    assert abs(adjusted[1].ratio - adjusted[0].ratio) < 4 * np.sqrt(adjusted[0].variance + adjusted[1].variance)


def test_benjamini_hochberg_matches_the_step_up_rule():
    q = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan])
    assert np.allclose(q[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[4])


def test_two_sided_p_is_zero_at_infinite_z_one_at_nothing_and_nan_when_unknown():
    p = stats.two_sided_p(np.array([0.02, 0.0, np.nan, 0.02, 0.0]), np.array([0.0, 0.0, 1e-4, np.nan, 1e-4]))
    assert p[0] == 0.0 and p[1] == 1.0
    assert np.isnan(p[2]) and np.isnan(p[3])
    assert p[4] == 1.0


def test_the_always_valid_p_value_rejects_exactly_when_the_confidence_sequence_excludes_zero():
    rng = np.random.default_rng(13)
    estimate = rng.normal(0, 0.01, 5000)
    variance = (rng.uniform(0.002, 0.01, 5000)) ** 2
    n = rng.integers(10, 50_000, 5000)

    p = stats.always_valid_p(estimate, variance, n)
    radius = stats.cs_radius(np.sqrt(variance), n)

    assert np.array_equal(p < 0.05, np.abs(estimate) > radius)
    assert np.all(p >= stats.two_sided_p(estimate, variance) - 1e-12), "never below the fixed-horizon p"
    assert np.all((0 < p) & (p <= 1))


def test_peeking_every_day_at_the_always_valid_p_value_rejects_at_most_five_percent_of_a_a_tests():
    rng = np.random.default_rng(17)
    days, per_day = 14, 400
    shape = (EXPERIMENTS, days, per_day)
    a = stats.RatioStats.from_units(*_users(rng, shape)).cumsum(axis=1)
    b = stats.RatioStats.from_units(*_users(rng, shape)).cumsum(axis=1)
    diff = stats.lift(stats.ratio_delta(b), stats.ratio_delta(a))

    always_valid = stats.always_valid_p(diff.absolute, diff.absolute_var, stats.effective_n(a.n, b.n))

    assert (always_valid < 0.05).any(axis=1).mean() <= 0.05
    assert (diff.p_value < 0.05).any(axis=1).mean() > 0.10


def test_always_valid_p_detects_a_real_lift_as_data_accumulate():
    rng = np.random.default_rng(19)
    days, per_day = 14, 1000
    a = stats.RatioStats.from_units(*_users(rng, (EXPERIMENTS, days, per_day), ctr=0.05)).cumsum(axis=1)
    b = stats.RatioStats.from_units(*_users(rng, (EXPERIMENTS, days, per_day), ctr=0.06)).cumsum(axis=1)
    diff = stats.lift(stats.ratio_delta(b), stats.ratio_delta(a))

    p = stats.always_valid_p(diff.absolute, diff.absolute_var, stats.effective_n(a.n, b.n))

    assert (p[:, -1] < 0.05).mean() > 0.8


def holm_step_down(p_values: list[float]) -> list[float]:
    """The textbook rule: sort ascending, adjusted(i) = max over j <= i of (m - j + 1) p(j), capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p_values[i])
        out[i] = min(1.0, running)
    return out


def test_holm_matches_the_step_down_rule_and_skips_nan():
    rng = np.random.default_rng(23)
    for _ in range(50):
        p = list(rng.uniform(0, 0.2, rng.integers(1, 6)))
        assert np.allclose(stats.holm(p), holm_step_down(p))
    adjusted = stats.holm([0.01, np.nan, 0.04])
    assert np.allclose(adjusted[[0, 2]], [0.02, 0.04]) and np.isnan(adjusted[1])
