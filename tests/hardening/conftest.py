from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _fresh_serving_caches(settings):
    """Each test starts like a freshly started server process."""
    from ranking import registry, serving

    settings.KALEIDO_TRAIN_THREADS = 1
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    registry.reset_caches()
    serving.invalidate_catalogue()
    yield
    registry.reset_caches()
    serving.invalidate_catalogue()
