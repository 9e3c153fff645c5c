"""The Celery app. Without a broker URL every task runs eagerly in-process."""

import os

from celery import Celery
from kombu import Queue

from .queues import CPU_QUEUE, GPU_QUEUE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")

app = Celery("kaleido")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue(GPU_QUEUE), Queue(CPU_QUEUE))
app.conf.task_default_queue = CPU_QUEUE
app.autodiscover_tasks()

from .request_context import connect_celery_signals  # noqa: E402 - after the app exists

connect_celery_signals()
