"""An analyst evaluates candidate after candidate; the model serving traffic stays loaded throughout."""

import pytest

from ranking import registry
from ranking import services as ranking
from ranking.models import ModelVersion
from tests.ranking.factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db


def test_scoring_many_candidates_never_evicts_the_serving_model(settings):
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    placement, variants = catalogue("home-banner")
    log_random_traffic(placement, variants, users=600, seed=2)
    served = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True)
    assert served.activated
    registry.get_model(served.model_version)  # loaded for serving, as the first rank call does
    row = ModelVersion.objects.get(version=served.model_version)
    candidates = []
    for i in range(12):  # more than the serving cache holds
        row.pk, row.version, row.is_active = None, f"candidate-{i}", False
        row.save()
        candidates.append(row.version)

    for version in candidates:
        ranking.score_matrix(model_version=version, user_features=[{"age": 30}], variants=variants[:3])

    # Already in memory: a rank call waiting 0 s still gets it (an evicted model would be "model_loading").
    assert registry.get_model(served.model_version, wait_s=0).version == served.model_version
