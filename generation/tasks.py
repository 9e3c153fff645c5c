"""Celery tasks of the generation area: thin wrappers over generation.services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from kaleido.queues import GPU_QUEUE


@shared_task(
    bind=True, queue=GPU_QUEUE, acks_late=True, reject_on_worker_lost=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def generation_job_run(self, job_id: int) -> str:
    """Run one generation job. acks_late: a worker killed mid-job leaves the message for the next worker,
    which skips images already saved (one per job + index).

    A delivery that finds another worker's valid lease on the job (a redelivery while the first worker still
    runs it) leaves the job alone and looks again once that lease would have lapsed: by then the job is
    finished (nothing to do) or its worker died (this one takes it over)."""
    from .services import job_lease_wait, job_run

    job = job_run(job_id=job_id)
    wait = job_lease_wait(job)
    if wait is not None and not self.request.is_eager:
        raise self.retry(countdown=wait + 1, max_retries=None)
    return job.status if job is not None else "missing"


@shared_task(queue=GPU_QUEUE, acks_late=True)
def generation_resend_unsent() -> int:
    """Beat: jobs queued while the broker was unreachable are sent once it is back."""
    from .services import jobs_resend_unsent

    return jobs_resend_unsent()
