"""Image generation engine: two backends behind one interface, and the batch loop around them.

`get_backend(name)` returns this process's backend instance, so a Celery worker keeps its
loaded pipelines and LoRA adapters from one job to the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from PIL import Image

from .base import (
    Backend,
    GenerationError,
    ImageRequest,
    JobCancelled,
    LoraSpec,
    Mix,
    ModelSpec,
    StepCallback,
    batches,
    normalize_mix,
)
from .cache import PipelineCache

__all__ = [
    "Backend", "GenerationError", "ImageRequest", "JobCancelled", "LoraSpec", "Mix", "ModelSpec",
    "PipelineCache", "StepCallback", "batches", "get_backend", "normalize_mix", "reset_backends", "run_requests",
]

_backends: dict[str, Backend] = {}
_lock = threading.Lock()


def get_backend(name: str) -> Backend:
    with _lock:
        backend = _backends.get(name)
        if backend is None:
            backend = _backends[name] = _build(name)
        return backend


def reset_backends() -> None:
    """Forget loaded pipelines (tests, or after settings change)."""
    with _lock:
        for backend in _backends.values():
            cache = getattr(backend, "cache", None)
            if cache is not None:
                cache.clear()
        _backends.clear()


def _build(name: str) -> Backend:
    if name == "procedural":
        from .procedural import ProceduralBackend

        return ProceduralBackend()
    if name == "diffusers":
        from .sd import DiffusersBackend

        cache = PipelineCache(budget_bytes=int(settings.GENERATION_CACHE_MB) * 1024 * 1024)
        return DiffusersBackend(
            cache=cache, device=settings.GENERATION_DEVICE, vae_tiling=settings.GENERATION_VAE_TILING,
            attention_slicing=settings.GENERATION_ATTENTION_SLICING, max_batch=settings.GENERATION_MAX_BATCH,
        )
    raise GenerationError(f"unknown backend '{name}' (known: procedural, diffusers).")


def run_requests(
    *, backend: Backend, requests: list[ImageRequest], model: ModelSpec | None, loras: dict[str, LoraSpec],
    on_step: StepCallback, on_image: Callable[[ImageRequest, Image.Image, int], None],
) -> None:
    """Generate every request, batch by batch; on_image(request, image, batch_size) runs as each lands."""
    max_batch = getattr(backend, "max_batch", 1)
    for batch in batches(requests, max_batch=max_batch):
        images = backend.generate_batch(batch, model=model, loras=loras, on_step=on_step)
        if len(images) != len(batch):
            raise GenerationError(f"backend returned {len(images)} images for a batch of {len(batch)}.")
        for request, image in zip(batch, images, strict=True):
            on_image(request, image, len(batch))
