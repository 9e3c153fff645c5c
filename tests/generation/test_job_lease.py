"""One generation job never runs on two workers at once: the worker running it holds a lease on the job row.

A second delivery of the same task (a redelivery after the broker's visibility timeout, or the job queued
again) reaches another worker while the first still runs it; that worker must leave the job alone, and take it
over only once the first one's lease has lapsed (it died).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models.signals import post_save
from django.utils import timezone

from creative.models import ImageMaterial
from generation import services
from generation.models import GenerationJob
from tests.factories import CreativeKitFactory

pytestmark = pytest.mark.django_db
S = GenerationJob.Status


@pytest.fixture
def job():
    kit = CreativeKitFactory()
    return services.job_create(kit=kit, backend="procedural", mixes=[{"flat": 1.0}, {"photo": 1.0}],
                               images_per_mix=2, width=160, height=64, steps=3, seed=3)


@pytest.fixture
def when_first_image_saved():
    """Run `then(job_id)` once, right after the first generated image of a running job is saved."""
    calls = []

    def connect(then):
        def receiver(sender, instance, created, **kwargs):
            if created and instance.generation_job_id and not calls:
                calls.append(then(instance.generation_job_id))

        post_save.connect(receiver, sender=ImageMaterial, weak=False, dispatch_uid="lease-test")
        return calls

    yield connect
    post_save.disconnect(sender=ImageMaterial, dispatch_uid="lease-test")


def _expire_lease(job_id: int) -> None:
    """Time passes with no renewal: what a dead worker's lease looks like once GENERATION_LEASE_S is over."""
    GenerationJob.objects.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_second_worker_arriving_mid_run_leaves_the_job_alone(job, when_first_image_saved):
    seen = when_first_image_saved(lambda job_id: services.job_run(job_id=job_id, worker="gpu-b"))

    done = services.job_run(job_id=job.pk, worker="gpu-a")

    (second,) = seen
    assert second.status == S.RUNNING and second.leased_by == "gpu-a"  # b found a's lease and did nothing
    assert services.job_lease_wait(second) > 0
    assert done.status == S.SUCCEEDED
    assert sorted(done.images.values_list("job_index", flat=True)) == [0, 1, 2, 3]  # each image once
    assert done.leased_by == "" and done.lease_expires_at is None  # released at the end
    assert services.job_lease_wait(done) is None


def test_a_dead_workers_job_is_taken_over_once_its_lease_lapses(job):
    assert services.job_lease_claim(job_id=job.pk, worker="gpu-a")  # gpu-a starts, then dies

    refused = services.job_run(job_id=job.pk, worker="gpu-b")
    assert refused.status == S.RUNNING and refused.leased_by == "gpu-a" and not refused.images.exists()

    _expire_lease(job.pk)
    done = services.job_run(job_id=job.pk, worker="gpu-b")
    assert done.status == S.SUCCEEDED and done.images.count() == 4


def test_a_worker_that_lost_its_lease_stops_without_touching_the_job(job, when_first_image_saved):
    def taken_over(job_id):  # gpu-a stalls past its lease; gpu-b takes the job over
        _expire_lease(job_id)
        return services.job_lease_claim(job_id=job_id, worker="gpu-b")

    seen = when_first_image_saved(taken_over)
    stopped = services.job_run(job_id=job.pk, worker="gpu-a")

    assert seen == [True]
    assert stopped.status == S.RUNNING and stopped.leased_by == "gpu-b"  # a neither finished nor released it
    assert stopped.images.count() == 1
    done = services.job_run(job_id=job.pk, worker="gpu-b")
    assert done.status == S.SUCCEEDED
    assert sorted(done.images.values_list("job_index", flat=True)) == [0, 1, 2, 3]


def test_finished_and_cancelled_jobs_are_never_claimed(job):
    services.job_cancel(job=job)
    assert not services.job_lease_claim(job_id=job.pk, worker="gpu-a")
    assert services.job_run(job_id=job.pk, worker="gpu-a").status == S.CANCELLED
    assert services.job_lease_wait(GenerationJob.objects.get(pk=job.pk)) is None
