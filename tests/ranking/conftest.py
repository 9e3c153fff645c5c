from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _fresh_serving_caches(settings):
    """Each test starts like a freshly started server process."""
    from ranking import registry, serving

    settings.KALEIDO_TRAIN_THREADS = 1
    registry.reset_caches()
    serving.invalidate_catalogue()
    yield
    registry.reset_caches()
    serving.invalidate_catalogue()


@pytest.fixture
def rank_client(api_client_with):
    return api_client_with("rank", "events")


@pytest.fixture
def rank(rank_client):
    """POST /api/v1/rank and return the parsed body (asserting 200)."""

    def call(placement, user_id="u-1", features=None, k=1, context=None, expect=200):
        body = {"placement": placement, "user": {"id": user_id, "features": features or {}}, "k": k}
        if context is not None:
            body["context"] = context
        response = rank_client.post("/api/v1/rank", body, format="json")
        assert response.status_code == expect, response.content
        return response.json()

    return call
