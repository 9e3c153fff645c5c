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

from ..families import XL_FAMILIES, centre_crop
from .base import Backend, GenerationError, ImageRequest, LoraSpec, Mix, ModelSpec, StepCallback
from .cache import CachedPipeline, PipelineCache

logger = logging.getLogger(__name__)

# Sampler name → (diffusers scheduler class, config overrides). The names follow ComfyUI/A1111 usage.
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    # The SDE variant of DPM++ inside DPMSolverMultistep needs no torchsde (unlike DPMSolverSDEScheduler).
    "dpmpp_sde_karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}),
    "pndm": ("PNDMScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}


_NON_FINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def _to_json(value):
    """Scheduler config values as JSON can hold them (e.g. lambda_min_clipped = -inf becomes "-inf")."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(value):
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value


WARMUP_STEPS = 2


def warm_up(pipe, *, width: int, height: int, guidance: float) -> float:
    """Seconds of one short pass (WARMUP_STEPS steps, an empty prompt, VAE decode included) over a pipeline, with
    a copy of its scheduler so nothing a job reads is changed."""
    import torch

    started = time.perf_counter()
    scheduler = pipe.scheduler
    pipe.scheduler = type(scheduler).from_config(scheduler.config)
    try:
        with torch.inference_mode():
            pipe(prompt="", num_inference_steps=WARMUP_STEPS, guidance_scale=guidance, height=height, width=width,
                 generator=torch.Generator("cpu").manual_seed(0), output_type="pil")
    finally:
        pipe.scheduler = scheduler
    if torch.cuda.is_available() and str(pipe.device).startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


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

    HOTSWAP_SLOT = "kaleido_style"  # the one adapter a hotswapping pipeline holds; styles are swapped into it

    def __init__(self, *, cache: PipelineCache, device: str = "auto", vae_tiling: bool = False,
                 attention_slicing: bool = False, max_batch: int = 4, hotswap_rank: int = 0,
                 compile_unet: bool = False, warmup: bool | None = None):
        self.cache = cache
        self.device = pick_device(device)
        self.vae_tiling = vae_tiling
        self.attention_slicing = attention_slicing
        self.max_batch = max_batch
        # torch.compile of the UNet needs LoRA hotswap, or every style switch would recompile it: the styles are
        # swapped into one adapter slot prepared (padded to `hotswap_rank`) before the first LoRA is loaded.
        self.compile_unet = compile_unet
        self.hotswap_rank = hotswap_rank or (128 if compile_unet else 0)
        # A GPU worker's first image would pay CUDA context set-up, cuDNN autotuning and (compiled) the UNet's
        # compilation: one short pass after each load and compile pays it instead. On CPU there is nothing to warm.
        self.warmup = self.device.startswith("cuda") if warmup is None else warmup
        self.warmups: list[dict] = []  # every warm-up run: model, why (load / compile), seconds

    # -- loading -------------------------------------------------------------------------------------------

    def _cache_key(self, model: ModelSpec) -> tuple:
        if model.sha256:
            return (model.sha256, model.family, model.dtype, self.device)
        path = Path(model.path)
        marker = path / "model_index.json" if path.is_dir() else path
        mtime = marker.stat().st_mtime_ns if marker.exists() else 0
        return (str(path), mtime, model.dtype, self.device)

    def _check_hash(self, model: ModelSpec) -> None:
        from ..weights import weights_sha256

        if model.sha256 and weights_sha256(Path(model.path)) != model.sha256:
            raise GenerationError(f"base model '{model.name}': the files at {Path(model.path).name} changed since "
                                  "registration (SHA-256 differs); register them again.")

    def load_pipeline(self, model: ModelSpec):
        """Read a pipeline from local disk: safetensors only, never the network."""
        import diffusers

        path = Path(model.path)
        xl = model.family in XL_FAMILIES
        cls = diffusers.StableDiffusionXLPipeline if xl else diffusers.StableDiffusionPipeline
        dtype = pick_dtype(model.dtype, self.device)
        self._check_hash(model)
        try:
            if path.is_dir():
                pipe = cls.from_pretrained(str(path), dtype=dtype, use_safetensors=True, local_files_only=True)
            else:
                pipe = cls.from_single_file(str(path), dtype=dtype, local_files_only=True,
                                            **self._single_file_parts(path, model.family))
        except GenerationError:
            raise
        except Exception as exc:
            raise GenerationError(f"base model '{model.name}' could not be loaded from {path}: {exc}") from exc
        if pipe.unet.dtype != dtype:  # older diffusers ignored `dtype=` and silently kept fp32
            raise GenerationError(f"base model '{model.name}' loaded as {pipe.unet.dtype}, not {dtype}.")
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
        if self.hotswap_rank:
            pipe.enable_lora_hotswap(target_rank=self.hotswap_rank)
        pipe._kaleido_default_scheduler = pipe.scheduler
        return pipe

    @staticmethod
    def _single_file_parts(path: Path, family: str) -> dict:
        """Offline single-file loading: component configs from the project (or `<stem>_config/`) and the
        tokenizer(s) from local disk, so diffusers never asks the hub."""
        from transformers import CLIPTokenizer

        from ..registry import has_tokenizer, tokenizer_folders
        from ..weights import components_folder

        folder = components_folder(path, family)
        if folder is None:
            raise GenerationError(f"no component configs for the single file {path.name} ({family}); "
                                  f"put them in {path.stem}_config/ beside it.")
        parts: dict = {"config": str(folder)}
        for i, tok_dir in enumerate(tokenizer_folders(path, family)):
            if not has_tokenizer(tok_dir):
                raise GenerationError(f"no tokenizer for {path.name}: copy vocab.json and merges.txt to {tok_dir}.")
            parts["tokenizer" if i == 0 else f"tokenizer_{i + 1}"] = CLIPTokenizer.from_pretrained(str(tok_dir))
        return parts

    def pipeline_for(self, model: ModelSpec) -> CachedPipeline:
        entry = self.cache.get(self._cache_key(model), lambda: self.load_pipeline(model))
        if self.warmup and not entry.extras.get("warmups"):
            self._warm_up(entry, model, reason="load")
        return entry

    def _warm_up(self, entry: CachedPipeline, model: ModelSpec, *, reason: str) -> None:
        """One short pass at the model's default size (the shapes jobs use, which is what autotuning and
        compilation key on); a failure is logged, never raised: the job itself then says what is wrong."""
        from ..families import profile

        sizes = profile(model.family).sizes
        width, height = (model.width, model.height) if model.width and model.height else (sizes[0] if sizes
                                                                                          else (512, 512))
        guidance = profile(model.family).guidance
        entry.extras.setdefault("warmups", []).append(reason)
        try:
            seconds = warm_up(entry.pipe, width=width, height=height, guidance=guidance)
        except Exception as exc:  # e.g. out of memory at the default size: jobs may still run smaller
            logger.warning("warm-up of %s (%s) failed: %s", model.name, reason, exc)
            return
        self.warmups.append({"model": model.name, "reason": reason, "seconds": round(seconds, 3),
                             "size": [width, height]})
        logger.info("warmed up %s after %s in %.2fs at %dx%d", model.name, reason, seconds, width, height)

    # -- LoRA switching ------------------------------------------------------------------------------------

    @staticmethod
    def adapter_name(spec: LoraSpec) -> str:
        """The adapter's name inside the pipeline: the style and its file hash, so new bytes are a new adapter."""
        return f"{spec.name}_{spec.sha256[:12]}" if spec.sha256 else spec.name

    def apply_mix(self, entry: CachedPipeline, mix: Mix, loras: dict[str, LoraSpec], *, model: ModelSpec) -> None:
        """Load any adapter not yet in this pipeline, then switch weights; the pipeline is never reloaded."""
        from ..weights import file_sha256

        pipe = entry.pipe
        if self.hotswap_rank:
            self._apply_mix_by_hotswap(entry, mix, loras, model=model)
            return
        active: list[tuple[str, float]] = []
        for name, weight in mix:
            spec = loras.get(name)
            if spec is None:
                raise GenerationError(f"LoRA style '{name}' is not registered.")
            adapter = self.adapter_name(spec)
            active.append((adapter, weight))
            if adapter in entry.loaded_loras:
                continue
            path = Path(spec.path)
            if spec.sha256 and file_sha256(path) != spec.sha256:
                raise GenerationError(f"LoRA style '{name}': {path.name} changed since registration "
                                      "(SHA-256 differs); register it again.")
            stale = [a for a in entry.loaded_loras if a.rsplit("_", 1)[0] == name and a != adapter]
            if stale:  # the style was re-registered with other bytes: its old adapter goes
                self.unload(entry, stale)
            try:
                pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=adapter,
                                       use_safetensors=True, local_files_only=True)
                if not any(adapter in (pipe.get_list_adapters() or {}).get(c, []) for c in ("unet", "text_encoder",
                                                                                             "text_encoder_2")):
                    raise GenerationError("none of its layers matched the base model")
            except Exception as exc:
                # A half-loaded adapter may leave layers patched: drop this pipeline so the next job starts clean.
                self.cache.evict(self._cache_key(model))
                raise GenerationError(f"LoRA style '{name}' could not be loaded from {path.name}: {exc}") from exc
            entry.loaded_loras.add(adapter)
        if not entry.loaded_loras:
            return
        if not active:
            pipe.disable_lora()
            return
        pipe.enable_lora()
        pipe.set_adapters([n for n, _ in active], adapter_weights=[w for _, w in active])

    def _apply_mix_by_hotswap(self, entry: CachedPipeline, mix: Mix, loras: dict[str, LoraSpec], *,
                              model: ModelSpec) -> None:
        """One adapter slot: a new style's weights are swapped into it in place (`hotswap=True`), its weight set
        as the slot's scale; the base look is the slot at weight 0. A compiled UNet is never recompiled."""
        from ..weights import file_sha256

        styles = [(name, weight) for name, weight in mix if weight != 0.0] or list(mix[:1])
        if len(styles) > 1:
            raise GenerationError("this worker compiles the UNet and swaps one LoRA at a time (hotswap); a mix of "
                                  f"{len(styles)} styles needs a worker with GENERATION_COMPILE=0.")
        pipe = entry.pipe
        in_slot = entry.extras.get("hotswap")
        if styles:
            name, weight = styles[0]
            spec = loras.get(name)
            if spec is None:
                raise GenerationError(f"LoRA style '{name}' is not registered.")
            adapter = self.adapter_name(spec)
            if adapter != in_slot:
                path = Path(spec.path)
                if spec.sha256 and file_sha256(path) != spec.sha256:
                    raise GenerationError(f"LoRA style '{name}': {path.name} changed since registration "
                                          "(SHA-256 differs); register it again.")
                try:
                    pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=self.HOTSWAP_SLOT,
                                           use_safetensors=True, local_files_only=True, hotswap=in_slot is not None)
                except Exception as exc:
                    self.cache.evict(self._cache_key(model))
                    raise GenerationError(f"LoRA style '{name}' could not be swapped in from {path.name}: {exc}") from exc
                entry.extras["hotswap"] = in_slot = adapter
                entry.loaded_loras = {self.HOTSWAP_SLOT}
                self._compile(entry, model)
        else:
            weight = 0.0
        if in_slot is not None:
            pipe.set_adapters([self.HOTSWAP_SLOT], adapter_weights=[weight])

    def _compile(self, entry: CachedPipeline, model: ModelSpec) -> None:
        """Compile the UNet once, after the first adapter is in its slot (later swaps keep the graph), and warm
        the compiled UNet up so that the first image does not wait for compilation."""
        if not self.compile_unet or entry.extras.get("compiled"):
            return
        # In place (nn.Module.compile): the pipeline, its views and peft keep the same UNet object.
        entry.pipe.unet.compile(fullgraph=False)
        entry.extras["compiled"] = True
        if self.warmup:
            self._warm_up(entry, model, reason="compile")

    def unload(self, entry: CachedPipeline, adapters: list[str] | None = None) -> None:
        """Remove adapters (all when None) from a cached pipeline, freeing their weights."""
        names = sorted(entry.loaded_loras if adapters is None else set(adapters) & entry.loaded_loras)
        if not names:
            return
        entry.pipe.delete_adapters(names)
        entry.loaded_loras.difference_update(names)

    def unload_lora(self, style: str) -> int:
        """Unload every adapter of this style from every cached pipeline; returns how many were removed."""
        removed = 0
        for key in self.cache.keys():
            entry = self.cache.get(key, lambda: None)
            names = [a for a in entry.loaded_loras if a == style or a.rsplit("_", 1)[0] == style]
            self.unload(entry, names)
            removed += len(names)
        return removed

    # -- generation ----------------------------------------------------------------------------------------

    def _scheduler(self, pipe, name: str, resolved: dict | None = None):
        """A fresh scheduler: from a resolved config (replay), by sampler name, or the model's own."""
        import diffusers

        default = pipe._kaleido_default_scheduler
        if resolved:
            config = {k: _from_json(v) for k, v in resolved.items()}
            cls = getattr(diffusers, config.pop("_class_name"), None)
            if cls is None:
                raise GenerationError(f"unknown scheduler class in provenance: {resolved.get('_class_name')}.")
            return cls.from_config(config)
        if not name or name == "default":
            return type(default).from_config(default.config)
        if name not in SCHEDULERS:
            raise GenerationError(f"unknown scheduler '{name}' (known: {', '.join(sorted(SCHEDULERS))}).")
        class_name, overrides = SCHEDULERS[name]
        return getattr(diffusers, class_name).from_config(default.config, **overrides)

    def _img2img(self, entry: CachedPipeline, model: ModelSpec, *, inpaint: bool = False):
        kind = "inpaint" if inpaint else "img2img"
        view = entry.extras.get(kind)
        if view is None:
            import diffusers

            xl = model.family in XL_FAMILIES
            if inpaint:
                cls = diffusers.StableDiffusionXLInpaintPipeline if xl else diffusers.StableDiffusionInpaintPipeline
            else:
                cls = diffusers.StableDiffusionXLImg2ImgPipeline if xl else diffusers.StableDiffusionImg2ImgPipeline
            # Same modules (and so the same LoRA adapters), no copy of the weights.
            view = cls(**entry.pipe.components)
            view.set_progress_bar_config(disable=True)
            entry.extras[kind] = view
        return view

    def generate_batch(self, batch: list[ImageRequest], *, model: ModelSpec | None, loras: dict[str, LoraSpec],
                       on_step: StepCallback) -> list[Image.Image]:
        import torch

        if model is None:
            raise GenerationError("the diffusers backend needs a registered base model.")
        entry = self.pipeline_for(model)
        first = batch[0]
        self.apply_mix(entry, first.mix, loras, model=model)
        if first.control is not None:
            if first.init_image is not None:
                raise GenerationError("ControlNet runs with text-to-image only (no init image) for now.")
            pipe = self._controlnet_view(entry, model, first.control)
        elif first.init_image is not None:
            pipe = self._img2img(entry, model, inpaint=first.mask_image is not None)
        else:
            pipe = entry.pipe
        self._apply_ip_adapter(entry, first.ip_adapter, view=pipe)
        pipe.scheduler = self._scheduler(entry.pipe, first.scheduler, first.scheduler_config)
        generator_device = "cpu" if not self.device.startswith("cuda") else self.device
        generators = [torch.Generator(device=generator_device).manual_seed(r.seed) for r in batch]
        scheduler_config = {"_class_name": type(pipe.scheduler).__name__,
                            **{k: _to_json(v) for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")}}
        dtype = str(pipe.unet.dtype).replace("torch.", "")
        seeds = [r.seed for r in batch]
        for i, request in enumerate(batch):
            request.details = {"scheduler_config": scheduler_config, "dtype": dtype, "device": self.device,
                               "device_kind": self.device.split(":")[0], "batch_size": len(batch),
                               "batch_index": i, "batch_seeds": seeds}

        def step_end(_pipe, _step, _timestep, callback_kwargs):
            on_step(len(batch))  # one step of every image in the batch
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
        self._weighted_prompts(pipe, kwargs, xl=model.family in XL_FAMILIES)
        if first.init_image is not None:
            kwargs["image"] = [centre_crop(r.init_image.convert("RGB"), (r.width, r.height)) for r in batch]
            kwargs["strength"] = first.strength
            if first.mask_image is not None:  # white = regenerate, black = keep
                kwargs["mask_image"] = [centre_crop(r.mask_image.convert("L"), (r.width, r.height)) for r in batch]
                kwargs["height"], kwargs["width"] = first.height, first.width
        else:
            kwargs["height"], kwargs["width"] = first.height, first.width
        if first.control is not None:
            kwargs["image"] = [centre_crop(r.control.image.convert("RGB"), (r.width, r.height)) for r in batch]
            kwargs["controlnet_conditioning_scale"] = first.control.scale
            for request in batch:
                request.details["control"] = {"name": first.control.name, "sha256": first.control.sha256,
                                              "scale": first.control.scale}
        if first.ip_adapter is not None:
            kwargs["ip_adapter_image"] = first.ip_adapter.image.convert("RGB")  # one reference for the batch
            for request in batch:
                request.details["ip_adapter"] = {"name": first.ip_adapter.name, "sha256": first.ip_adapter.sha256,
                                                 "image_encoder_sha256": first.ip_adapter.image_encoder_sha256,
                                                 "scale": first.ip_adapter.scale}
        started = time.perf_counter()
        with torch.inference_mode():
            images = pipe(**kwargs).images
        if "mask_image" in kwargs:  # the kept pixels are the original's, not their VAE round trip
            images = [Image.composite(img, init, mask)
                      for img, init, mask in zip(images, kwargs["image"], kwargs["mask_image"], strict=True)]
        logger.info("generated %d image(s) in %.2fs", len(images), time.perf_counter() - started)
        return images

    def _apply_ip_adapter(self, entry: CachedPipeline, spec, *, view) -> None:
        """Load the batch's IP-Adapter into the shared UNet (once, until another one or none is asked for),
        set its scale, and hand its image encoder to the view that runs the batch."""
        from ..weights import weights_sha256

        pipe = entry.pipe
        wanted = (spec.sha256 or spec.path) if spec is not None else None
        loaded = entry.extras.get("ip_adapter")
        if loaded != wanted:
            if loaded is not None:  # another adapter, or none: the UNet goes back to plain cross-attention
                pipe.unload_ip_adapter()
                entry.extras.pop("ip_adapter", None)
            if spec is not None:
                path, encoder = Path(spec.path), Path(spec.image_encoder)
                if spec.sha256 and weights_sha256(path) != spec.sha256:
                    raise GenerationError(f"IP-Adapter '{spec.name}': {path.name} changed since registration.")
                if spec.image_encoder_sha256 and weights_sha256(encoder) != spec.image_encoder_sha256:
                    raise GenerationError(f"IP-Adapter '{spec.name}': its image encoder changed since registration.")
                try:
                    pipe.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name,
                                         image_encoder_folder=str(encoder), local_files_only=True)
                    pipe.image_encoder.to(self.device, pipe.unet.dtype)
                except Exception as exc:
                    self.cache.evict(self._cache_key_of(entry))
                    raise GenerationError(f"IP-Adapter '{spec.name}' could not be loaded from {path.name}: {exc}") from exc
                entry.extras["ip_adapter"] = wanted
        if spec is not None:
            pipe.set_ip_adapter_scale(spec.scale)
        if view is not pipe:  # views were built over the components before the encoder was loaded
            for part in ("image_encoder", "feature_extractor"):
                if hasattr(view, part):
                    setattr(view, part, getattr(pipe, part, None))

    def _cache_key_of(self, entry: CachedPipeline) -> tuple:
        return next((k for k in self.cache.keys() if self.cache.get(k, lambda: None) is entry), ())

    def _controlnet_view(self, entry: CachedPipeline, model: ModelSpec, control):
        """A ControlNet pipeline over the loaded modules; each ControlNet is loaded once per pipeline."""
        import diffusers

        from ..weights import weights_sha256

        key = f"controlnet:{control.sha256 or control.path}"
        view = entry.extras.get(key)
        if view is not None:
            return view
        path = Path(control.path)
        if control.sha256 and weights_sha256(path) != control.sha256:
            raise GenerationError(f"ControlNet '{control.name}': {path.name} changed since registration.")
        try:
            if path.is_dir():
                net = diffusers.ControlNetModel.from_pretrained(str(path), use_safetensors=True, local_files_only=True)
            else:
                from safetensors.torch import load_file

                config = diffusers.ControlNetModel.load_config(str(path.with_name(f"{path.stem}_config")))
                net = diffusers.ControlNetModel.from_config(config)
                net.load_state_dict(load_file(str(path)))
        except Exception as exc:
            raise GenerationError(f"ControlNet '{control.name}' could not be loaded from {path.name}: {exc}") from exc
        net = net.to(self.device, entry.pipe.unet.dtype)
        cls = (diffusers.StableDiffusionXLControlNetPipeline if model.family in XL_FAMILIES
               else diffusers.StableDiffusionControlNetPipeline)
        view = cls(**entry.pipe.components, controlnet=net)
        view.set_progress_bar_config(disable=True)
        entry.extras[key] = view
        return view

    def _weighted_prompts(self, pipe, kwargs: dict, *, xl: bool) -> None:
        """Prompt weighting and prompts over 77 tokens (generation.prompts) become embeddings; prompts without
        either take the pipeline's own path."""
        from .. import prompts as weighting

        given_negative = "negative_prompt" in kwargs
        negative = kwargs.get("negative_prompt") or [""] * len(kwargs["prompt"])
        tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if xl and getattr(pipe, "tokenizer_2", None) else [])
        if not weighting.needs_encoding(tokenizers[0], kwargs["prompt"] + negative, *tokenizers[1:]):
            kwargs["prompt"] = [weighting.plain(p) for p in kwargs["prompt"]]  # e.g. "(gold:1.0)" is just "gold"
            if given_negative:
                kwargs["negative_prompt"] = [weighting.plain(p) for p in negative]
            return
        positive = kwargs.pop("prompt")
        kwargs.pop("negative_prompt", None)
        n = len(positive)
        if not xl:
            embeds = weighting.encode(pipe, positive + negative, device=pipe.device)
            kwargs["prompt_embeds"], kwargs["negative_prompt_embeds"] = embeds[:n], embeds[n:]
            return
        # SDXL without a negative prompt conditions its unconditional side on zeros (force_zeros_for_empty_prompt),
        # as the pipeline's own path does.
        zeros = not given_negative and bool(getattr(pipe.config, "force_zeros_for_empty_prompt", False))
        embeds, pooled = weighting.encode_xl(pipe, positive if zeros else positive + negative, device=pipe.device)
        kwargs["prompt_embeds"], kwargs["pooled_prompt_embeds"] = embeds[:n], pooled[:n]
        if zeros:
            import torch

            kwargs["negative_prompt_embeds"] = torch.zeros_like(embeds[:n])
            kwargs["negative_pooled_prompt_embeds"] = torch.zeros_like(pooled[:n])
        else:
            kwargs["negative_prompt_embeds"], kwargs["negative_pooled_prompt_embeds"] = embeds[n:], pooled[n:]

    def describe(self, *, model: ModelSpec | None) -> dict:
        import diffusers
        import peft
        import torch
        import transformers

        dtype = pick_dtype(model.dtype if model else "auto", self.device)
        return {"backend": self.name, "device": self.device, "dtype": str(dtype).replace("torch.", ""),
                "versions": {"diffusers": diffusers.__version__, "torch": torch.__version__,
                             "transformers": transformers.__version__, "peft": peft.__version__}}
