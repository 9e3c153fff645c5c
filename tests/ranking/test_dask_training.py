"""With KALEIDO_DASK_SCHEDULER set, the ranker's LightGBM fits run on that Dask cluster (lightgbm.dask) with
the same parameters, and the model scores the holdout as well as the one fitted in process. A local cluster
of two worker processes stands in for the real one; no database needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ranking import training
from ranking.training import TrainingData

pytestmark = pytest.mark.slow  # two worker processes and three LightGBM fits: about half a minute

START = datetime(2026, 1, 1, tzinfo=UTC)


def planted_world(n: int = 12_000, seed: int = 2) -> TrainingData:
    """Young users click the blue button, older ones the grid layout; a segment nudges the rate."""
    rng = np.random.default_rng(seed)
    tags = {1: {"button": ["blue"], "layout": ["single"]}, 2: {"button": ["red"], "layout": ["grid"]},
            3: {"button": ["red"], "layout": ["single"]}, 4: {"button": ["blue"], "layout": ["grid"]}}
    ages = rng.integers(18, 80, n)
    segments = rng.choice(["saver", "trader", "new"], n)
    shown = rng.integers(1, 5, n)
    blue = np.isin(shown, [1, 4])
    grid = np.isin(shown, [2, 4])
    logit = -2.6 + 1.2 * (blue & (ages < 35)) + 1.0 * (grid & (ages > 55)) + 0.3 * (segments == "trader")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    rows = [{"age": int(a), "segment": str(s)} for a, s in zip(ages, segments, strict=True)]
    return TrainingData(feature_rows=rows, variant_ids=shown.astype(np.int64), positions=np.ones(n), labels=y,
                        weights=np.ones(n), times=[START + timedelta(seconds=i) for i in range(n)],
                        tags_by_variant=tags)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local, \
            distributed.Client(local) as client:
        yield local, client


def test_a_ranker_fitted_on_a_two_worker_dask_cluster_scores_the_holdout_like_the_local_fit(cluster, settings):
    local, client = cluster
    data = planted_world()
    in_process = training.fit_ranker(data, algo="lightgbm", threads=1)

    settings.KALEIDO_DASK_SCHEDULER = local.scheduler_address
    on_dask = training.fit_ranker(data, algo="lightgbm", threads=1)

    assert "distributed" not in in_process.params
    assert on_dask.params["distributed"] == {"engine": "lightgbm.dask", "scheduler": local.scheduler_address,
                                             "workers": 2}
    # The cluster did the training: its scheduler ran LightGBM's per-worker training tasks.
    prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert "train_part" in prefixes
    # Same parameters, data-parallel trees: the holdout is ranked as well (AUC) and as well calibrated.
    assert in_process.metrics["auc"] > 0.65
    assert on_dask.metrics["auc"] == pytest.approx(in_process.metrics["auc"], abs=0.02)
    assert on_dask.metrics["logloss"] == pytest.approx(in_process.metrics["logloss"], rel=0.02)
    assert on_dask.params["num_leaves"] == in_process.params["num_leaves"]
    assert 1 <= on_dask.params["best_iteration"] <= training.MAX_ROUNDS
    # The artefact is an ordinary LightGBM model: serving loads it like any other.
    assert on_dask.artefact.decode().startswith("tree")


def test_the_refit_on_train_and_validation_runs_on_the_cluster_too(cluster, settings):
    local, _ = cluster
    data = planted_world(seed=5)
    in_process = training.fit_ranker(data, algo="lightgbm", threads=1, refit=True)

    settings.KALEIDO_DASK_SCHEDULER = local.scheduler_address
    on_dask = training.fit_ranker(data, algo="lightgbm", threads=1, refit=True)

    assert on_dask.params["refit"] == "train+validation" and on_dask.params["distributed"]["workers"] == 2
    assert on_dask.metrics["auc"] == pytest.approx(in_process.metrics["auc"], abs=0.02)


def test_an_unreachable_scheduler_is_a_training_error_that_names_it(settings):
    # Nothing listens on port 9 here: the operator configured a cluster that is down.
    settings.KALEIDO_DASK_SCHEDULER = "tcp://127.0.0.1:9"
    training._dask_clients.clear()

    with pytest.raises(training.TrainingError, match=r"tcp://127\.0\.0\.1:9.*unset KALEIDO_DASK_SCHEDULER"):
        training.dask_client(timeout_s=2)
    assert "tcp://127.0.0.1:9" not in training._dask_clients
