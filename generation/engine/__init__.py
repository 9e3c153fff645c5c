"""Image generation engine: two backends behind one interface, and the batch loop around them.

`get_backend(name)` returns this process's backend instance, so a Celery worker keeps its
loaded pipelines and LoRA adapters from one job to the next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from PIL import Image

from .base import (
    Backend,
    ControlSpec,
    GenerationError,
    ImageRequest,
    IpAdapterSpec,
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
    "Backend", "ControlSpec", "GenerationError", "ImageRequest", "IpAdapterSpec", "JobCancelled", "LoraSpec", "Mix", "ModelSpec",
    "PipelineCache", "StepCallback", "batches", "get_backend", "normalize_mix", "reset_backends", "run_requests",
]

logger = logging.getLogger(__name__)
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
            compile_unet=compile_unet(), hotswap_rank=int(settings.GENERATION_LORA_MAX_RANK),
            warmup=warmup_setting(),
        )
    raise GenerationError(f"unknown backend '{name}' (known: procedural, diffusers).")


def warmup_setting() -> bool | None:
    """GENERATION_WARMUP: "auto" (None: warm up on CUDA only), or on / off."""
    value = str(getattr(settings, "GENERATION_WARMUP", "auto")).strip().lower()
    if value in ("", "auto"):
        return None
    return value in ("1", "true", "yes", "on")


def compile_unet() -> bool:
    """GENERATION_COMPILE=1: the worker compiles the UNet (torch.compile) and switches LoRAs by hotswap."""
    return bool(settings.GENERATION_COMPILE)


def run_requests(
    *, backend: Backend, requests: list[ImageRequest], model: ModelSpec | None, loras: dict[str, LoraSpec],
    on_step: StepCallback, on_image: Callable[[ImageRequest, Image.Image, int], None],
) -> None:
    """Generate every request, batch by batch; on_image(request, image, batch_size) runs as each lands.

    Out of accelerator memory, a batch is halved and retried (down to one image); a single image that does
    not fit fails the job with a clear message. Steps already reported for the failed attempt are counted
    again, so progress may briefly run ahead; it ends at 100% when the job does.
    """
    max_batch = getattr(backend, "max_batch", 1)
    pending = list(batches(requests, max_batch=max_batch))
    while pending:
        batch = pending.pop(0)
        try:
            images = backend.generate_batch(batch, model=model, loras=loras, on_step=on_step)
        except Exception as exc:
            if not out_of_memory(exc):
                raise
            release_memory()
            if len(batch) == 1:
                raise GenerationError("out of GPU memory for a single image; lower the size, enable VAE tiling "
                                      "or attention slicing, or free the GPU.") from exc
            half = len(batch) // 2
            logger.warning("out of memory at batch %d; retrying as %d + %d", len(batch), half, len(batch) - half)
            pending[:0] = [batch[:half], batch[half:]]
            continue
        if len(images) != len(batch):
            raise GenerationError(f"backend returned {len(images)} images for a batch of {len(batch)}.")
        for request, image in zip(batch, images, strict=True):
            on_image(request, image, len(batch))


def out_of_memory(exc: BaseException) -> bool:
    """Whether an exception says the accelerator ran out of memory (torch's class, or its message)."""
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def release_memory() -> None:
    """Give cached accelerator memory back after an out-of-memory error."""
    from .cache import _release_accelerator_memory

    _release_accelerator_memory()
