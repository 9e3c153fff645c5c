from __future__ import annotations

import os

import pytest

from . import stack

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _small_training(settings):
    """Training uses one thread and takes small logs (the root conftest empties the in-process caches)."""
    settings.KALEIDO_TRAIN_THREADS = 1
    settings.KALEIDO_TRAIN_MIN_ROWS = 100


@pytest.fixture
def _redis_db_to_ourselves():
    """Redis db 7 is this test's alone while it runs (see stack.redis_db_lock)."""
    with stack.redis_db_lock():
        yield
