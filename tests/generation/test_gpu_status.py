"""The job form says whether a gpu worker is online before it offers Stable Diffusion."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from generation.workers import gpu_status_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings):
    """The Celery app pointed at a broker for one test (the test settings run tasks eagerly, with none)."""
    from kaleido.celery import app

    saved = app.conf.broker_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete("generation:gpu-workers")

    def use(url: str) -> None:
        settings.CELERY_BROKER_URL = app.conf.broker_url = url

    yield use
    app.conf.broker_url = saved
    cache.delete("generation:gpu-workers")


def test_without_a_broker_the_form_says_jobs_run_in_the_web_process(staff_client):
    html = staff_client.get(reverse("admin:generation_generationjob_add")).content.decode()
    assert "No task broker is configured" in html


def test_a_broker_that_is_down_reads_as_no_gpu_worker_not_an_error(broker):
    broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert gpu_status_text().startswith("No gpu worker is online right now")
