"""Shared fixtures: media, model, compiled-model and journal folders in a temp dir, API keys, logged-in users."""

from __future__ import annotations

import contextlib
import os

import pytest


def _uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or "django_db_setup" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """KALEIDO_DATABASE_TESTS_ONLY=1 keeps only the tests that touch a database: `make test`'s second
    stage runs the suite again on SQLite, where a test that never opens a connection would only repeat
    what the first stage proved."""
    if os.environ.get("KALEIDO_DATABASE_TESTS_ONLY") != "1":
        return
    kept = [item for item in items if _uses_database(item)]
    dropped = [item for item in items if not _uses_database(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_ROOT = tmp_path / "models"
    settings.KALEIDO_COMPILED_MODEL_DIR = tmp_path / "compiled-models"
    settings.KALEIDO_DECISION_JOURNAL_DIR = tmp_path / "decision-journal"
    settings.MEDIA_ROOT.mkdir()
    settings.MODEL_ROOT.mkdir()


@pytest.fixture(autouse=True)
def _default_taxonomy(request):
    """The default tag taxonomy (seeded by a data migration) for every test on the database.

    A transactional test's flush empties it, and pytest-xdist's work stealing can hand a worker ordinary
    tests after transactional ones on the same database, so it is put back (inside the test's own
    transaction, rolled back with it) whenever it is missing."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    if "transactional_db" in request.fixturenames or transactional or "live_server" in request.fixturenames:
        return
    if marker is None and "db" not in request.fixturenames:
        return
    request.getfixturevalue("db")
    from creative.models import TagGroup, TagValue
    from creative.taxonomy import seed_taxonomy

    if not TagGroup.objects.exists():
        seed_taxonomy(TagGroup, TagValue)


@pytest.fixture
def journal_mode(settings, tmp_path):
    """Rank with KALEIDO_DECISION_LOG=journal in a fresh folder, flushed only when the test says so (on the
    test's own connection) unless it lowers KALEIDO_DECISION_FLUSH_S; yields the journal folder."""
    from ranking import decision_log

    settings.KALEIDO_DECISION_LOG = "journal"
    settings.KALEIDO_DECISION_JOURNAL_DIR = tmp_path / "journal"
    settings.KALEIDO_DECISION_FLUSH_S = 3600.0
    decision_log.close_journal()
    yield settings.KALEIDO_DECISION_JOURNAL_DIR
    decision_log.close_journal()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with empty caches: the shared one, and rank's in-process catalogue, loaded models,
    live counts and API keys (what a freshly started server process sees).

    Test databases roll back without delete signals, so a catalogue cached by slug in one test
    would otherwise point at a placement id that no longer exists in the next.
    """
    from django.core.cache import cache

    from access.throttling import forget_local_leases
    from kaleido.two_level_cache import reset_all
    from ranking import registry
    from ranking.live_copy import forget_counts
    from ranking.serving import invalidate_catalogue

    def forget_in_process():
        invalidate_catalogue()
        forget_counts()
        registry.reset_caches()
        reset_all()  # every TwoLevelCache's local copies: API keys, active models, ramps
        forget_local_leases()

    cache.clear()
    forget_in_process()
    yield
    with contextlib.suppress(Exception):  # a test may leave the cache pointing at a server it took down
        cache.clear()
    forget_in_process()


@pytest.fixture
def api_key_factory(db):
    from access.services import api_key_create

    def make(scopes=("rank", "events"), name="test bff"):
        return api_key_create(name=name, scopes=list(scopes))

    return make


@pytest.fixture
def api_client_with(api_key_factory):
    """An APIClient authenticated with a fresh key holding the given scopes."""
    from rest_framework.test import APIClient

    def make(*scopes: str):
        issued = api_key_factory(scopes=scopes or ("rank", "events"))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
        client.api_key = issued.api_key
        return client

    return make


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "correct-horse-battery")
    client.force_login(user)
    client.user = user
    return client
