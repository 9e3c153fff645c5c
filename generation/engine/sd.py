"""The real backend: Stable Diffusion through diffusers, with LoRA styles switched per batch.

A base pipeline is loaded once per worker process and kept in a memory-bounded cache.
Each LoRA is loaded once into it under its style name; a batch then only calls
`set_adapters` with its weights (or `disable_lora` for the base look), which takes
milliseconds instead of the seconds a reload costs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PIL import Image

from .base import Backend, GenerationError, ImageRequest, LoraSpec, Mix, ModelSpec, StepCallback
from .cache import CachedPipeline, PipelineCache

logger = logging.getLogger(__name__)

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "unipc": "UniPCMultistepScheduler",
}
XL_FAMILIES = {"sdxl", "sdxl-turbo"}


def pick_device(preference: str = "auto") -> str:
    import torch

    if preference and preference != "auto":
        return preference
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str, device: str):
    import torch

    if not device.startswith("cuda"):
        return torch.float32  # half precision on CPU is slow and partly unsupported
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}.get(dtype, torch.float16)


class DiffusersBackend(Backend):
    name = "diffusers"

    def __init__(self, *, cache: PipelineCache, device: str = "auto", vae_tiling: bool = False,
                 attention_slicing: bool = False, max_batch: int = 4):
        self.cache = cache
        self.device = pick_device(device)
        self.vae_tiling = vae_tiling
        self.attention_slicing = attention_slicing
        self.max_batch = max_batch

    # -- loading -------------------------------------------------------------------------------------------

    def _cache_key(self, model: ModelSpec) -> tuple:
        path = Path(model.path)
        marker = path / "model_index.json" if path.is_dir() else path
        mtime = marker.stat().st_mtime_ns if marker.exists() else 0
        return (str(path), mtime, model.dtype, self.device)

    def load_pipeline(self, model: ModelSpec):
        """Read a pipeline from local disk: safetensors only, never the network."""
        import diffusers

        path = Path(model.path)
        xl = model.family in XL_FAMILIES
        cls = diffusers.StableDiffusionXLPipeline if xl else diffusers.StableDiffusionPipeline
        dtype = pick_dtype(model.dtype, self.device)
        try:
            if path.is_dir():
                pipe = cls.from_pretrained(str(path), dtype=dtype, use_safetensors=True, local_files_only=True)
            else:
                # A single original-layout file; component configs come from a sibling "<stem>_config" folder
                # when one exists, so nothing is fetched from the hub.
                config_dir = path.with_name(f"{path.stem}_config")
                extra = {"config": str(config_dir)} if config_dir.is_dir() else {}
                pipe = cls.from_single_file(str(path), dtype=dtype, local_files_only=True, **extra)
        except Exception as exc:
            raise GenerationError(f"base model '{model.name}' could not be loaded from {path}: {exc}") from exc
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None  # marketing art is reviewed by operators; the checker costs memory
        pipe.set_progress_bar_config(disable=True)
        pipe.to(self.device)
        if self.device.startswith("cuda"):
            from diffusers.models.attention_processor import AttnProcessor2_0

            pipe.unet.set_attn_processor(AttnProcessor2_0())  # PyTorch SDPA kernels
            if self.vae_tiling:
                pipe.vae.enable_tiling()
            if self.attention_slicing:
                pipe.enable_attention_slicing()
        pipe._kaleido_default_scheduler = pipe.scheduler
        return pipe

    def pipeline_for(self, model: ModelSpec) -> CachedPipeline:
        return self.cache.get(self._cache_key(model), lambda: self.load_pipeline(model))

    # -- LoRA switching ------------------------------------------------------------------------------------

    def apply_mix(self, entry: CachedPipeline, mix: Mix, loras: dict[str, LoraSpec], *, model: ModelSpec) -> None:
        """Load any adapter not yet in this pipeline, then switch weights; the pipeline is never reloaded."""
        pipe = entry.pipe
        active = [(name, weight) for name, weight in mix]
        for name, _ in active:
            if name in entry.loaded_loras:
                continue
            spec = loras.get(name)
            if spec is None:
                raise GenerationError(f"LoRA style '{name}' is not registered.")
            path = Path(spec.path)
            try:
                pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name,
                                       use_safetensors=True, local_files_only=True)
            except Exception as exc:
                # A half-loaded adapter may leave layers patched: drop this pipeline so the next job starts clean.
                self.cache.evict(self._cache_key(model))
                raise GenerationError(f"LoRA style '{name}' could not be loaded from {path.name}: {exc}") from exc
            entry.loaded_loras.add(name)
        if not entry.loaded_loras:
            return
        if not active:
            pipe.disable_lora()
            return
        pipe.enable_lora()
        pipe.set_adapters([n for n, _ in active], adapter_weights=[w for _, w in active])

    # -- generation ----------------------------------------------------------------------------------------

    def _scheduler(self, pipe, name: str):
        default = pipe._kaleido_default_scheduler
        if not name or name == "default":
            return default
        import diffusers

        if name not in SCHEDULERS:
            raise GenerationError(f"unknown scheduler '{name}' (known: {', '.join(sorted(SCHEDULERS))}).")
        return getattr(diffusers, SCHEDULERS[name]).from_config(default.config)

    def _img2img(self, entry: CachedPipeline, model: ModelSpec):
        view = entry.extras.get("img2img")
        if view is None:
            import diffusers

            cls = (diffusers.StableDiffusionXLImg2ImgPipeline if model.family in XL_FAMILIES
                   else diffusers.StableDiffusionImg2ImgPipeline)
            # Same modules (and so the same LoRA adapters), no copy of the weights.
            view = cls(**entry.pipe.components)
            view.set_progress_bar_config(disable=True)
            entry.extras["img2img"] = view
        return view

    def generate_batch(self, batch: list[ImageRequest], *, model: ModelSpec | None, loras: dict[str, LoraSpec],
                       on_step: StepCallback) -> list[Image.Image]:
        import torch

        if model is None:
            raise GenerationError("the diffusers backend needs a registered base model.")
        entry = self.pipeline_for(model)
        first = batch[0]
        self.apply_mix(entry, first.mix, loras, model=model)
        pipe = self._img2img(entry, model) if first.init_image is not None else entry.pipe
        pipe.scheduler = self._scheduler(entry.pipe, first.scheduler)
        generator_device = "cpu" if not self.device.startswith("cuda") else self.device
        generators = [torch.Generator(device=generator_device).manual_seed(r.seed) for r in batch]

        def step_end(_pipe, _step, _timestep, callback_kwargs):
            on_step()
            return callback_kwargs

        kwargs = {
            "prompt": [r.prompt for r in batch],
            "num_inference_steps": first.steps,
            "guidance_scale": first.guidance,
            "generator": generators,
            "output_type": "pil",
            "callback_on_step_end": step_end,
        }
        if any(r.negative_prompt for r in batch):
            kwargs["negative_prompt"] = [r.negative_prompt for r in batch]
        if first.init_image is not None:
            kwargs["image"] = [r.init_image.convert("RGB").resize((r.width, r.height)) for r in batch]
            kwargs["strength"] = first.strength
        else:
            kwargs["height"], kwargs["width"] = first.height, first.width
        started = time.perf_counter()
        with torch.inference_mode():
            images = pipe(**kwargs).images
        logger.info("generated %d image(s) in %.2fs", len(images), time.perf_counter() - started)
        return images

    def describe(self, *, model: ModelSpec | None) -> dict:
        import diffusers
        import torch

        dtype = pick_dtype(model.dtype if model else "auto", self.device)
        return {"backend": self.name, "device": self.device, "dtype": str(dtype).replace("torch.", ""),
                "diffusers": diffusers.__version__, "torch": torch.__version__}
