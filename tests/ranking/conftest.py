from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _one_train_thread(settings):
    """Training uses one thread (the root conftest empties the in-process caches)."""
    settings.KALEIDO_TRAIN_THREADS = 1


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
