"""Serving scores a LightGBM ranker through a compiled forest: the same scores, produced faster."""

from __future__ import annotations

import numpy as np
import pytest

from ranking import features as F
from ranking import registry, services, serving
from ranking.buckets import ServingMode
from ranking.compiled import compile_forest
from ranking.models import ModelVersion

from .factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db

USERS = [
    {"age": 24, "gender": "f", "income_band": "low", "holdings": 3.5, "investment_count": 0, "has_credit_card": True},
    {"age": 67, "gender": "m", "income_band": "high", "holdings": 250.0, "investment_count": 9},
    {"gender": "x-unseen", "income_band": "mid", "device": "tv"},  # unseen values, missing keys
    {},
]


@pytest.fixture
def trained(settings, tmp_path):
    settings.KALEIDO_COMPILED_MODEL_DIR = tmp_path / "compiled"
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=1500, seed=3)
    version = services.train_model(placement=placement, algo="lightgbm", activate=True).model_version
    return placement, version, variants


def _lightgbm_itself(model, x):
    """The same model's calibrated scores through LightGBM instead of the compiled forest."""
    return registry.LoadedModel(version="-", algo=model.algo, spec=model.spec, booster=model.booster).predict_matrix(x)


def test_the_compiled_forest_takes_over_and_scores_every_user_exactly_as_lightgbm(trained, rank):
    placement, version, _ = trained
    model = registry.get_model(version)
    registry.wait_for_compiles()
    assert model.compiled is not None
    cat = serving.get_catalogue(placement.slug)

    for features in USERS:
        x = cat.design(model).copy()
        x[:, :len(model.spec["user"])] = model.encode_user(F.row_features(features, {}))
        np.testing.assert_allclose(serving.score_user(model, cat, F.row_features(features, {})),
                                   _lightgbm_itself(model, x), rtol=0, atol=1e-12)

    body = rank(placement.slug, user_id="u-old", features=USERS[1], k=36)
    scores = {it["variant_id"]: it["score"] for it in body["items"]}
    x = cat.design(model).copy()
    x[:, :len(model.spec["user"])] = model.encode_user(F.row_features(USERS[1], {}))
    expected = _lightgbm_itself(model, x)
    assert body["model_version"] == version
    assert all(abs(scores[v["id"]] - expected[i]) < 1e-12 for i, v in enumerate(cat.variants))


def test_a_second_process_on_the_host_loads_the_compiled_object_instead_of_compiling(trained, settings):
    _, version, _ = trained
    registry.get_model(version)
    registry.wait_for_compiles()
    compiled_files = list(settings.KALEIDO_COMPILED_MODEL_DIR.glob("*.o"))
    assert len(compiled_files) == 1
    written_at = compiled_files[0].stat().st_mtime_ns

    registry.reset_caches()  # what a freshly started worker sees
    model = registry.get_model(version)
    registry.wait_for_compiles()

    assert model.compiled is not None
    assert [(p, p.stat().st_mtime_ns) for p in settings.KALEIDO_COMPILED_MODEL_DIR.glob("*.o")] == [
        (compiled_files[0], written_at)]


def test_a_forest_that_disagrees_with_lightgbm_never_serves(trained, settings):
    placement, version, variants = trained
    log_random_traffic(placement, variants, users=1500, seed=8)
    other = services.train_model(placement=placement, algo="lightgbm").model_version  # more data: other trees
    mine, theirs = registry.get_model(version), registry.get_model(other)

    forest = compile_forest(theirs.booster.model_to_string().encode(), sha256="f" * 64, booster=mine.booster,
                            categorical=F.categorical_indices(mine.spec))

    assert forest is None
    assert not list(settings.KALEIDO_COMPILED_MODEL_DIR.glob("ffff*"))


def test_with_compiling_turned_off_lightgbm_serves(trained, settings, rank):
    settings.KALEIDO_RANK_COMPILE_MODELS = False
    placement, version, _ = trained
    registry.reset_caches()

    body = rank(placement.slug, user_id="u-young", features=USERS[0], k=3)
    registry.wait_for_compiles()

    assert body["model_version"] == version and body["items"][0]["score"] is not None
    assert registry.get_model(version).compiled is None
    assert ModelVersion.objects.get(version=version).algo == "lightgbm"
