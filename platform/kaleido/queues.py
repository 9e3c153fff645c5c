"""Celery queue names, defined once."""

GPU_QUEUE = "gpu"  # image generation
CPU_QUEUE = "cpu"  # training, analytics, rollups
