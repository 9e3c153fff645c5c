"""The model inside `train_ranker`: calibration that stays honest on little data, the calibration error's
bins, the per-variant quality term, the refit on train + validation, the blend of trees and regression, and
the general model's placement and surface features. Planted worlds built here, many seeds where a rate is claimed; no database needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ranking import features as F
from ranking import training
from ranking.registry import LoadedModel
from ranking.training import TrainingData

START = datetime(2026, 1, 1, tzinfo=UTC)


def _logloss(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _calibrated(cal, p):
    z = np.log(p / (1 - p))
    return 1 / (1 + np.exp(-(cal[0] * z + cal[1])))


def _unregularised_platt(y, p):
    from sklearn.linear_model import LogisticRegression

    z = np.log(p / (1 - p)).reshape(-1, 1)
    m = LogisticRegression(C=1e4, max_iter=200).fit(z, y)
    return float(m.coef_[0][0]), float(m.intercept_[0])


def test_shrunk_platt_keeps_a_useless_small_data_model_at_the_baselines_log_loss():
    # A model whose scores carry no signal, judged on 40 seeds of small validation/holdout splits with a
    # handful of clicks: the unregularised Platt fit chases noise and loses to the mean on the holdout
    # more often and by more than the shrunk one.
    shrunk_excess, plain_excess = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        p_val, p_hold = rng.uniform(0.005, 0.2, 300), rng.uniform(0.005, 0.2, 300)
        y_val, y_hold = (rng.random(300) < 0.02).astype(float), (rng.random(300) < 0.02).astype(float)
        if not 0 < y_val.sum() < 300 or not 0 < y_hold.sum() < 300:
            continue
        baseline = _logloss(y_hold, np.full(300, y_val.mean()))
        shrunk_excess.append(_logloss(y_hold, _calibrated(training.platt(y_val, p_val), p_hold)) - baseline)
        plain_excess.append(_logloss(y_hold, _calibrated(_unregularised_platt(y_val, p_val), p_hold)) - baseline)
    assert len(shrunk_excess) >= 30
    assert np.mean(shrunk_excess) < np.mean(plain_excess)
    assert np.mean(shrunk_excess) < 0.002  # within a whisker of predicting the mean


def test_shrunk_platt_still_recovers_a_miscalibration_the_data_show_clearly():
    rng = np.random.default_rng(3)
    z = rng.normal(-3, 1, 50_000)
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-(0.5 * z - 1.0)))).astype(float)  # true slope 0.5
    slope, intercept = training.platt(y, 1 / (1 + np.exp(-z)))
    assert slope == pytest.approx(0.5, abs=0.06) and intercept == pytest.approx(-1.0, abs=0.25)


def test_calibration_error_uses_the_curves_equal_count_bins():
    # Scores spread over 0–2% around a true 1% rate: fixed-width bins put every row in the first bin and
    # report no error; the equal-count bins of the registry's curve see the spread.
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.02, 200_000)
    y = (rng.random(len(p)) < 0.01).astype(float)
    ece = training.expected_calibration_error(y, p)
    curve = training.calibration_curve(p, y)
    assert ece == pytest.approx(sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in curve) / len(p))
    assert 0.004 < ece < 0.006
    calibrated = np.full(len(p), 0.01)
    assert training.expected_calibration_error(y, calibrated) < 0.001


def _variant_quality_data(seed: int, n: int = 20_000):
    """Two tags, 20 variants; variant 1 and 2 share tags but variant 1 is much better (quality, not tags)."""
    rng = np.random.default_rng(seed)
    tags = {v: {"color": ["blue" if v % 2 else "red"]} for v in range(1, 21)}
    quality = {v: 0.0 for v in tags}
    quality[1], quality[3] = 1.2, -1.0
    shown = rng.integers(1, 21, n)
    logit = -3.0 + np.array([quality[v] for v in shown]) + np.array([0.3 if v % 2 else 0.0 for v in shown])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    rows = [{"age": int(a)} for a in rng.integers(18, 80, n)]
    return TrainingData(feature_rows=rows, variant_ids=shown.astype(np.int64), positions=np.ones(n), labels=y,
                        weights=np.ones(n), times=[START + timedelta(seconds=i) for i in range(n)],
                        tags_by_variant=tags)


@pytest.mark.parametrize("seed", range(3))
def test_the_per_variant_term_learns_quality_the_tags_do_not_explain(seed):
    data = _variant_quality_data(seed)
    spec = F.build_spec(feature_rows=data.feature_rows, variant_tags=data.tags_by_variant.values(),
                        variant_ids=range(1, 21), variant_column=False)
    users = F.user_codes(spec, data.feature_rows)
    tags = F.tag_matrix(spec, [data.tags_by_variant[v] for v in data.variant_ids])
    vcodes = F.variant_codes(spec, data.variant_ids.tolist())
    coef = training.fit_logreg(users=users, tags=tags, positions=data.positions, y=data.labels, w=data.weights,
                               spec=spec, c=0.05, vcodes=vcodes, variant_scale=1.0)
    model = LoadedModel(version="-", algo="logreg", spec=spec, coef=coef)
    same_tags = [1, 5, 3]  # all blue: good, average, bad
    user = F.user_codes(spec, [{"age": 40}] * 3)
    p = model.predict(users=user, tags=F.tag_matrix(spec, [data.tags_by_variant[v] for v in same_tags]),
                      vcodes=F.variant_codes(spec, same_tags), positions=np.ones(3))
    assert p[0] > p[1] * 1.5 > p[2] * 1.5
    unseen = model.predict(users=user[:1], tags=F.tag_matrix(spec, [{"color": ["blue"]}]),
                           vcodes=F.variant_codes(spec, [999]), positions=np.ones(1))
    assert p[2] < unseen[0] < p[0]  # a variant it never saw is scored from its tags alone


def test_fit_ranker_refits_the_chosen_candidate_on_train_and_validation_and_keeps_a_clean_holdout():
    data = _variant_quality_data(7, n=12_000)
    assert training.fit_ranker(data, algo="lightgbm", threads=1).params["refit"] == "train"  # the default
    fitted = training.fit_ranker(data, algo="lightgbm", threads=1, refit=True)
    assert fitted.params["refit"] == "train+validation"
    # The early-stopped rounds, scaled from the training split's rows to train + validation's.
    assert fitted.model.booster.num_trees() == fitted.params["best_iteration"]
    assert len(fitted.holdout["labels"]) == 12_000 - int(12_000 * 0.85)
    assert fitted.metrics["auc"] is not None and fitted.metrics["logloss"] < fitted.baseline_logloss


def _two_surfaces(seed: int, n: int = 24_000):
    """The same six designs on a banner and on a card: a grid layout wins on cards and loses on banners."""
    rng = np.random.default_rng(seed)
    designs = [{"layout": [lay], "color": [c]} for lay in ("grid", "list", "single") for c in ("blue", "red")]
    tags = {v + 1: designs[v % 6] for v in range(12)}
    context = {v: ("home-banner", "banner") if v <= 6 else ("tab-card", "card") for v in tags}
    shown = rng.integers(1, 13, n)
    grid = np.array(["grid" in tags[v]["layout"] for v in shown])
    card = shown > 6
    logit = -3.0 + np.where(grid, np.where(card, 1.2, -1.0), 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    rows = [{"age": int(a)} for a in rng.integers(18, 80, n)]
    return TrainingData(feature_rows=rows, variant_ids=shown.astype(np.int64), positions=np.ones(n), labels=y,
                        weights=np.ones(n), times=[START + timedelta(seconds=i) for i in range(n)],
                        tags_by_variant=tags, context_by_variant=context)


@pytest.mark.parametrize("algo", ["lightgbm", "logreg"])
def test_the_general_model_tells_a_banner_from_a_card(algo):
    data = _two_surfaces(11)
    # Three live variants with no impressions yet (a placement's new designs): grid on the banner, grid and
    # list on the card. Only their placement and surface can tell them apart.
    new = {101: data.tags_by_variant[1], 107: data.tags_by_variant[7], 109: data.tags_by_variant[9]}
    live = {101: ("home-banner", "banner"), 107: ("tab-card", "card"), 109: ("tab-card", "card")}
    general = training.fit_ranker(data, algo=algo, threads=1, general=True, variant_tags=list(new.values()),
                                  variant_context=live)
    pooled = training.fit_ranker(data, algo=algo, threads=1, variant_tags=list(new.values()))
    assert general.spec["variant_context"]["surfaces"] == ["banner", "card"]

    def scores(fitted, ids):
        spec = fitted.spec
        return fitted.model.predict(users=F.user_codes(spec, [{"age": 30}] * len(ids)),
                                    tags=F.tag_matrix(spec, [new.get(v) or data.tags_by_variant[v] for v in ids]),
                                    vcodes=F.variant_codes(spec, ids), positions=np.ones(len(ids)))

    for ids in ([1, 7, 9], [101, 107, 109]):  # seen variants, then the new ones
        p = scores(general, ids)
        assert p[1] > 2 * p[0]  # grid: good on the card, bad on the banner
        assert p[1] > p[2]  # and on the card it beats the list
    q = scores(pooled, [101, 107, 109])
    assert q[0] == pytest.approx(q[1])  # without the features both surfaces look the same


def test_placements_unseen_in_training_rows_are_missing_not_invented():
    data = _two_surfaces(2, n=6000)
    data.context_by_variant = {v: c for v, c in data.context_by_variant.items() if v <= 6}  # banner rows known
    fitted = training.fit_ranker(data, algo="lightgbm", threads=1, general=True,
                                 variant_context={99: ("new-popup", "popup")})
    context = fitted.spec["variant_context"]
    assert context["placements"] == ["home-banner"] and context["surfaces"] == ["banner"]
    codes = F.context_codes(fitted.spec, F.variant_codes(fitted.spec, [1, 99, 12345]))
    assert codes[0].tolist() == [0.0, 0.0] and np.isnan(codes[1]).all() and np.isnan(codes[2]).all()


@pytest.mark.parametrize("seed", range(3))
def test_lightgbm_gains_a_shrunk_quality_offset_per_variant_when_validation_asks_for_it(seed):
    data = _variant_quality_data(seed)
    fitted = training.fit_ranker(data, algo="lightgbm", threads=1)
    assert "+quality" in fitted.params["candidate"]  # chosen on validation over the plain trees
    spec = fitted.spec
    ids = [1, 5, 3]
    p = fitted.model.predict(users=F.user_codes(spec, [{"age": 40}] * 3),
                             tags=F.tag_matrix(spec, [data.tags_by_variant[v] for v in ids]),
                             vcodes=F.variant_codes(spec, ids), positions=np.ones(3))
    assert p[0] > p[1] * 1.5 > p[2] * 1.5
    # Explanations still add up: the offset is its own column of the contributions.
    names, contrib = fitted.model.contributions(users=F.user_codes(spec, [{"age": 40}]),
                                                tags=F.tag_matrix(spec, [data.tags_by_variant[1]]),
                                                vcodes=F.variant_codes(spec, [1]), positions=np.ones(1))
    assert contrib[0, names.index("variant_quality")] > 0.5
    assert contrib[0].sum() == pytest.approx(np.log(p[0] / (1 - p[0])), abs=1e-6)


def _young_like_blue(seed: int, n: int = 30_000):
    """Ten designs; under-30s click blue ones, everyone else red ones, and design 1 is better than its tags."""
    rng = np.random.default_rng(seed)
    tags = {v: {"color": ["blue" if v % 2 else "red"], "layout": ["grid" if v <= 4 else "list"]} for v in range(1, 11)}
    shown = rng.integers(1, 11, n)
    ages = rng.integers(18, 70, n)
    blue = shown % 2 == 1
    logit = -3.2 + np.where(ages < 30, np.where(blue, 0.9, -0.3), np.where(blue, -0.3, 0.5)) + 0.6 * (shown == 1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return TrainingData(feature_rows=[{"age": int(a)} for a in ages], variant_ids=shown.astype(np.int64),
                        positions=np.ones(n), labels=y, weights=np.ones(n),
                        times=[START + timedelta(seconds=i) for i in range(n)], tags_by_variant=tags)


def test_a_blended_model_scores_its_calibrated_trees_and_regression_averaged(settings):
    settings.KALEIDO_TRAINING_BLEND = "always"
    data = _young_like_blue(2)
    fitted = training.fit_ranker(data, threads=1)
    assert fitted.params["candidate"].startswith("blend(lgb-") and ", logreg-" in fitted.params["candidate"]
    assert fitted.params["blend"]["weight"] == training.BLEND_WEIGHT
    spec, model = fitted.spec, fitted.model
    ids = list(range(1, 11))
    users = F.user_codes(spec, [{"age": 22}] * 10 + [{"age": 50}] * 10)
    tags = F.tag_matrix(spec, [data.tags_by_variant[v] for v in ids] * 2)
    vcodes = F.variant_codes(spec, ids * 2)
    p = model.predict(users=users, tags=tags, vcodes=vcodes, positions=np.ones(20))
    # By hand from the parts stored in the spec: the trees' calibrated log-odds and the regression's, averaged,
    # plus the per-variant term, then the blend's own calibration.
    from ranking.registry import linear_logits

    x = F.lgb_matrix(spec, users=users, tags=tags, variant_codes_=vcodes, positions=np.ones(20))
    blend = spec["blend"]
    s1, b1 = blend["tree_calibration"]
    z = ((1 - blend["weight"]) * (s1 * model.booster.predict(x, raw_score=True) + b1)
         + blend["weight"] * linear_logits(spec, blend["linear"], users=users, tags=tags, positions=np.ones(20))
         + F.variant_offsets(spec, vcodes))
    slope, intercept = spec["calibration"]
    assert p == pytest.approx(1 / (1 + np.exp(-(slope * z + intercept))), rel=1e-9)
    # It ranks as the world says: blue for the young, red for the rest, design 1 first among the blues.
    assert int(np.argmax(p[:10])) + 1 == 1 and ids[int(np.argmax(p[10:]))] % 2 == 0
    assert fitted.metrics["logloss"] < fitted.baseline_logloss
    # Explanations still add up, the regression's share as one column.
    names, contrib = model.contributions(users=users[:1], tags=tags[:1], vcodes=vcodes[:1], positions=np.ones(1))
    assert "linear_model" in names and names[-1] == "bias"
    assert contrib[0].sum() == pytest.approx(np.log(p[0] / (1 - p[0])), abs=1e-6)


def test_the_blend_is_kept_only_where_validation_allows_and_never_for_one_algorithm_or_the_general_model(settings):
    data = _young_like_blue(3, n=16_000)
    settings.KALEIDO_TRAINING_BLEND = "validation"
    fitted = training.fit_ranker(data, threads=1)
    blends = [c for c in fitted.params["candidates"] if c["candidate"].startswith("blend(")]
    assert len(blends) == 1  # always tried when both kinds were fitted, and listed with its validation loss
    chosen_alone = min(c["valid_logloss"] for c in fitted.params["candidates"] if not c["candidate"].startswith("blend("))
    if fitted.params["candidate"].startswith("blend("):
        assert blends[0]["valid_logloss"] < chosen_alone + 0.01
    settings.KALEIDO_TRAINING_BLEND = "off"
    assert not training.fit_ranker(data, threads=1).params["candidate"].startswith("blend(")
    settings.KALEIDO_TRAINING_BLEND = "always"
    assert "blend" not in training.fit_ranker(data, algo="lightgbm", threads=1).spec
    assert "blend" not in training.fit_ranker(data, algo="logreg", threads=1).spec
    # The general model's placement and surface columns are the trees' alone: it is not blended.
    assert "blend" not in training.fit_ranker(_two_surfaces(11), threads=1, general=True).spec
