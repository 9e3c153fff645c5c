"""The worker warms a pipeline up once after loading it (and after compiling its UNet), never per job."""

from __future__ import annotations

import numpy as np

from generation import services
from generation.engine import ImageRequest, get_backend
from generation.engine.cache import PipelineCache
from generation.engine.sd import DiffusersBackend
from generation.models import GenerationJob


def _job(kit, **options):
    job = services.job_run(job_id=services.job_create(kit=kit, width=32, height=32, seed=2, **options).pk)
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    return job


def _pixels(material) -> np.ndarray:
    from PIL import Image

    with material.file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def test_a_loaded_pipeline_is_warmed_up_once_and_jobs_draw_the_same_pictures(tiny_model, square_kit, settings):
    from generation.engine import reset_backends

    settings.GENERATION_WARMUP = "0"
    reset_backends()
    cold = _pixels(_job(square_kit).images.get())
    assert get_backend("diffusers").warmups == []

    settings.GENERATION_WARMUP = "1"
    reset_backends()
    first, second = _job(square_kit), _job(square_kit)
    backend = get_backend("diffusers")
    assert [(w["model"], w["reason"], w["size"]) for w in backend.warmups] == [("tiny-sd", "load", [32, 32])]
    # The warm-up changes no state a job reads: the same seed draws the same picture as on a cold worker.
    assert np.array_equal(_pixels(first.images.get()), cold) and np.array_equal(_pixels(second.images.get()), cold)

    backend.cache.clear()  # e.g. evicted for another model: loaded again, so warmed up again
    _job(square_kit)
    assert [w["reason"] for w in backend.warmups] == ["load", "load"] and backend.cache.loads == 2


def test_a_compiling_worker_warms_up_again_after_compiling_the_unet(sparkle, settings):
    from generation.services import _lora_specs, _model_spec

    backend = DiffusersBackend(cache=PipelineCache(budget_bytes=1 << 30), device="cpu", warmup=True,
                               hotswap_rank=8, compile_unet=True)
    model = _model_spec(sparkle.base_model)
    entry = backend.pipeline_for(model)
    # torch.compile takes minutes on CPU (bench/generation.py times it on a GPU); here only the order matters.
    compiled = []
    entry.pipe.unet.compile = lambda **kwargs: compiled.append(kwargs)
    loras = _lora_specs(GenerationJob(backend="diffusers", mixes=[{"sparkle": 1.0}], base_model=sparkle.base_model))
    for weight in (1.0, 0.5):
        request = ImageRequest(index=0, prompt="a gold coin", mix=(("sparkle", weight),), width=32, height=32,
                               seed=1, steps=2, guidance=1.0)
        backend.generate_batch([request], model=model, loras=loras, on_step=lambda n: None)
    assert len(compiled) == 1 and [w["reason"] for w in backend.warmups] == ["load", "compile"]


def test_warm_up_is_a_gpu_matter_by_default_and_the_procedural_backend_has_none(square_kit, settings):
    assert DiffusersBackend(cache=PipelineCache(budget_bytes=1), device="cpu").warmup is False
    assert DiffusersBackend(cache=PipelineCache(budget_bytes=1), device="cuda").warmup is True
    settings.GENERATION_WARMUP = "1"
    job = services.job_run(job_id=services.job_create(kit=square_kit, width=32, height=32).pk)
    assert job.backend == "procedural" and job.status == GenerationJob.Status.SUCCEEDED
    assert not hasattr(get_backend("procedural"), "warmups")  # nothing loaded, nothing to warm
