"""Generation benchmark: seconds per image, LoRA switch vs full reload, engine overhead vs bare diffusers.

    .venv/bin/python bench/generation.py [--size 64] [--steps 4] [--repeats 5] [--threads 1]
    .venv/bin/python bench/generation.py --device cuda [--steps 20] [--no-sdxl] [--json out.json]

On CPU it runs a small randomly initialised pipeline. With --device cuda it builds realistic-size random
pipelines from the configs Kaleido ships (SD 1.5 at 512×512, SDXL at 1024×1024, fp16, SDPA; nothing
downloaded) and reports it/s eager vs torch.compile'd UNet, seconds per image at batch 1 and 4, LoRA
switch time (set_adapters eager; hotswap into the compiled UNet, checking it did not recompile), the worker's
warm-up pass (seconds on a fresh pipeline and after compiling), and peak GPU memory, next to stable-fast's published SD 1.5 512×512 H100 figures (54.5 it/s eager, 66 compiled).
`--tiny` (or `--smoke`) runs the same code on the tiny pipeline (any device, CPU included) to check the script
itself; `--no-compile` skips torch.compile there (on CPU compiling takes minutes).
Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform as stdlib_platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DEBUG", "1")  # a development run: a development SECRET_KEY under var/


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


STABLE_FAST_H100 = {"eager": 54.5, "compiled": 66.0}  # SD 1.5, 512×512, it/s, as published by stable-fast


def _random_pipeline(family: str, *, device: str, smoke: bool):
    """A pipeline of the family's real architecture with random fp16 weights, built on the device."""
    import diffusers
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from generation.families import config_dir
    from tests.support.tiny_pipelines import tiny_pipeline, tiny_tokenizer

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if smoke:
        pipe = tiny_pipeline()
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device, dtype)
    folder = config_dir(family)
    torch.manual_seed(0)
    with torch.device(device):
        unet = diffusers.UNet2DConditionModel.from_config(diffusers.UNet2DConditionModel.load_config(str(folder / "unet")))
        vae = diffusers.AutoencoderKL.from_config(diffusers.AutoencoderKL.load_config(str(folder / "vae")))
        parts = {"unet": unet, "vae": vae, "tokenizer": tiny_tokenizer(),
                 "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(str(folder / "text_encoder")))}
        if family == "sdxl":
            parts["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(str(folder / "text_encoder_2")))
            parts["tokenizer_2"] = tiny_tokenizer()
    scheduler = diffusers.EulerDiscreteScheduler.from_config(
        diffusers.EulerDiscreteScheduler.load_config(str(folder / "scheduler")))
    if family == "sdxl":
        pipe = diffusers.StableDiffusionXLPipeline(scheduler=scheduler, **parts)
    else:
        pipe = diffusers.StableDiffusionPipeline(scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                                 requires_safety_checker=False, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device, dtype)


def _steps_per_second(pipe, *, size: int, steps: int, batch: int = 1, guidance: float = 7.5) -> tuple[float, float]:
    """(denoising it/s from per-step times, seconds per image) for one call."""
    import torch

    marks: list[float] = []

    def on_step(_p, _i, _t, kwargs):
        torch.cuda.synchronize() if torch.cuda.is_available() else None
        marks.append(time.perf_counter())
        return kwargs

    start = time.perf_counter()
    with torch.inference_mode():
        pipe(["a gold coin banner"] * batch, num_inference_steps=steps, guidance_scale=guidance, height=size,
             width=size, generator=torch.Generator("cpu").manual_seed(0), output_type="pil",
             callback_on_step_end=on_step)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return 1.0 / statistics.median(gaps), total / batch


def _compiled_with_hotswap(pipe, tmp: Path, results: dict, *, size: int, steps: int) -> None:
    """Compiled UNet with LoRA hotswap: the adapter slot is prepared before compiling, then swapped in place."""
    import torch
    import torch._dynamo

    from generation.engine.sd import warm_up

    pipe.enable_lora_hotswap(target_rank=16)
    pipe.load_lora_weights(str(tmp), weight_name="a.safetensors", adapter_name="style")
    pipe.unet = torch.compile(pipe.unet, fullgraph=False)
    results["compile_warmup_s"] = warm_up(pipe, width=size, height=size, guidance=7.5)  # the worker's pass
    results["sd15_compiled_its"], results["sd15_compiled_s_per_image_b1"] = _steps_per_second(
        pipe, size=size, steps=steps)
    frames_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    swaps = []
    for name in ["b", "a"] * 2:
        start = time.perf_counter()
        pipe.load_lora_weights(str(tmp), weight_name=f"{name}.safetensors", adapter_name="style", hotswap=True)
        swaps.append(time.perf_counter() - start)
        _steps_per_second(pipe, size=size, steps=2)
    results["lora_hotswap_compiled_ms"] = 1000 * statistics.median(swaps)
    results["recompiled_after_hotswap"] = torch._dynamo.utils.counters["stats"]["unique_graphs"] > frames_before


def cuda_main(args) -> dict:
    """The GPU run: SD 1.5 eager vs compiled, batch 1 and 4, LoRA switch and hotswap, SDXL eager; peak memory."""
    import torch

    from generation.engine.sd import warm_up
    from tests.support.tiny_pipelines import save_tiny_lora

    device = args.device
    on_cuda = device.startswith("cuda") and torch.cuda.is_available()
    torch.backends.cuda.matmul.allow_tf32 = True
    results: dict = {"device": torch.cuda.get_device_name(0) if on_cuda else device, "torch": torch.__version__,
                     "steps": args.steps, "smoke": args.smoke}
    tmp = Path(tempfile.mkdtemp(prefix="kaleido-bench-gpu-"))
    size15 = 32 if args.smoke else 512

    def peak_gib() -> float:
        return torch.cuda.max_memory_allocated() / 2**30 if on_cuda else float("nan")

    pipe = _random_pipeline("sd15", device=device, smoke=args.smoke)
    for name, seed in (("a", 1), ("b", 2)):
        save_tiny_lora(tmp / f"{name}.safetensors", pipeline=pipe, rank=16, seed=seed, scale=0.01)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    # The worker's own warm-up pass (generation.engine.sd.warm_up) on the fresh pipeline: what the first job would
    # otherwise pay (CUDA context, cuDNN autotuning), then the first real image after it.
    results["warmup_s"] = warm_up(pipe, width=size15, height=size15, guidance=7.5)
    results["first_image_after_warmup_s"] = _steps_per_second(pipe, size=size15, steps=args.steps)[1]
    results["sd15_eager_its"], results["sd15_eager_s_per_image_b1"] = _steps_per_second(pipe, size=size15,
                                                                                         steps=args.steps)
    results["sd15_eager_s_per_image_b4"] = _steps_per_second(pipe, size=size15, steps=args.steps, batch=4)[1]
    results["sd15_peak_gib_b4"] = peak_gib()
    # LoRA switch in eager mode: both adapters loaded, set_adapters flips between them.
    for name in ("a", "b"):
        pipe.load_lora_weights(str(tmp), weight_name=f"{name}.safetensors", adapter_name=name)
    flips = []
    for name in ["a", "b"] * 5:
        start = time.perf_counter()
        pipe.set_adapters([name], adapter_weights=[1.0])
        flips.append(time.perf_counter() - start)
    results["lora_switch_eager_ms"] = 1000 * statistics.median(flips)
    pipe.delete_adapters(["a", "b"])

    if args.compile:
        _compiled_with_hotswap(pipe, tmp, results, size=size15, steps=args.steps)
    results["sd15_peak_gib"] = peak_gib()
    del pipe
    import torch._dynamo

    torch._dynamo.reset()
    if on_cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    if args.sdxl:
        xl = _random_pipeline("sdxl", device=device, smoke=args.smoke)
        size_xl = 32 if args.smoke else 1024
        results["sdxl_warmup_s"] = warm_up(xl, width=size_xl, height=size_xl, guidance=7.5)
        results["sdxl_eager_its"], results["sdxl_eager_s_per_image_b1"] = _steps_per_second(xl, size=size_xl,
                                                                                             steps=args.steps)
        results["sdxl_eager_s_per_image_b4"] = _steps_per_second(xl, size=size_xl, steps=args.steps, batch=4)[1]
        results["sdxl_peak_gib"] = peak_gib()
    return results


def print_cuda(results: dict) -> None:
    what = ("SMOKE RUN on the tiny pipeline (checks the script, not a measurement)" if results.get("smoke")
            else "random fp16 weights at real size (shipped configs), SDPA")
    print(f"## generation on {results['device']}\n\ntorch {results['torch']}, {what}, {results['steps']} steps, "
          f"CFG 7.5, Euler.\n")
    print("| measure | Kaleido | stable-fast H100 (published) |\n| --- | --- | --- |")
    print(f"| SD 1.5 512² it/s, eager | {results['sd15_eager_its']:.1f} | {STABLE_FAST_H100['eager']} |")
    nan = float("nan")
    results = {"sd15_compiled_its": nan, "sd15_compiled_s_per_image_b1": nan, "lora_hotswap_compiled_ms": nan,
               "recompiled_after_hotswap": "not run", "compile_warmup_s": nan, **results}
    print(f"| SD 1.5 512² it/s, torch.compile UNet | {results['sd15_compiled_its']:.1f} | {STABLE_FAST_H100['compiled']} |")
    print(f"| SD 1.5 s/image, batch 1 (eager / compiled) | {results['sd15_eager_s_per_image_b1']:.2f} / "
          f"{results['sd15_compiled_s_per_image_b1']:.2f} | |")
    print(f"| SD 1.5 s/image, batch 4 (eager) | {results['sd15_eager_s_per_image_b4']:.2f} | |")
    print(f"| LoRA switch, eager set_adapters | {results['lora_switch_eager_ms']:.1f} ms | |")
    print(f"| LoRA hotswap into compiled UNet | {results['lora_hotswap_compiled_ms']:.1f} ms "
          f"(recompiled: {results['recompiled_after_hotswap']}) | |")
    print(f"| warm-up pass on a fresh pipeline (2 steps) / first image after it | {results['warmup_s']:.2f} s / "
          f"{results['first_image_after_warmup_s']:.2f} s | |")
    print(f"| compile warm-up (the worker's pass after compiling) | {results['compile_warmup_s']:.0f} s | |")
    print(f"| SD 1.5 peak GPU memory (batch 4 / compiled) | {results['sd15_peak_gib_b4']:.2f} / "
          f"{results['sd15_peak_gib']:.2f} GiB | |")
    if "sdxl_eager_its" in results:
        print(f"| SDXL 1024² it/s, eager | {results['sdxl_eager_its']:.2f} | |")
        print(f"| SDXL s/image, batch 1 / batch 4 (eager) | {results['sdxl_eager_s_per_image_b1']:.2f} / "
              f"{results['sdxl_eager_s_per_image_b4']:.2f} | |")
        print(f"| SDXL peak GPU memory | {results['sdxl_peak_gib']:.2f} GiB | |")
        print(f"| SDXL warm-up pass on a fresh pipeline | {results['sdxl_warmup_s']:.2f} s | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu (tiny pipeline, engine overhead) or cuda (real sizes)")
    parser.add_argument("--smoke", "--tiny", dest="smoke", action="store_true",
                        help="the GPU script on the tiny pipeline (any device, CPU included): checks the script")
    parser.add_argument("--no-sdxl", dest="sdxl", action="store_false")
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="skip the torch.compile and hotswap part (a quick check of the rest)")
    parser.add_argument("--json", type=Path, help="also write the GPU results here")
    args = parser.parse_args()
    if args.device != "cpu" or args.smoke:
        import json

        import django

        django.setup()
        if args.steps == 4 and not args.smoke:
            args.steps = 20
        results = cuda_main(args)
        print_cuda(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return

    import django

    django.setup()
    import torch
    from diffusers import StableDiffusionPipeline

    from generation.engine import ImageRequest, ModelSpec, normalize_mix, run_requests
    from generation.engine.base import LoraSpec
    from generation.engine.cache import PipelineCache
    from generation.engine.sd import DiffusersBackend
    from tests.support.tiny_pipelines import save_tiny_lora, save_tiny_pipeline, tiny_pipeline

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="kaleido-bench-"))
    shape = {"sample_size": args.size, "channels": (64, 128)}
    save_tiny_pipeline(tmp / "base", **shape)
    save_tiny_lora(tmp / "loras" / "a.safetensors", pipeline=tiny_pipeline(**shape), seed=1)
    save_tiny_lora(tmp / "loras" / "b.safetensors", pipeline=tiny_pipeline(**shape), seed=2)
    model = ModelSpec(name="bench", family="other", path=str(tmp / "base"))
    loras = {n: LoraSpec(name=n, path=str(tmp / "loras" / f"{n}.safetensors")) for n in ("a", "b")}
    backend = DiffusersBackend(cache=PipelineCache(budget_bytes=8 << 30), device="cpu", max_batch=4)
    entry = backend.pipeline_for(model)
    pipe = entry.pipe
    backend.apply_mix(entry, normalize_mix({"a": 1.0}), loras, model=model)
    backend.apply_mix(entry, normalize_mix({"b": 1.0}), loras, model=model)

    def engine_image(mix=None, n=1):
        requests = [ImageRequest(index=i, prompt="a gold coin banner", mix=normalize_mix(mix or {}),
                                 width=args.size, height=args.size, seed=i, steps=args.steps, guidance=1.0)
                    for i in range(n)]
        run_requests(backend=backend, requests=requests, model=model, loras=loras, on_step=lambda n: None,
                     on_image=lambda *a: None)

    def bare_image():
        pipe.disable_lora()
        with torch.inference_mode():
            pipe("a gold coin banner", num_inference_steps=args.steps, guidance_scale=1.0, height=args.size,
                 width=args.size, generator=torch.Generator().manual_seed(0), output_type="pil")

    engine_image()
    bare_image()  # warm-up
    # Interleave so drift in machine load hits both sides alike.
    bare, engine = [], []
    for _ in range(args.repeats):
        bare.append(_median(bare_image, 1))
        engine.append(_median(engine_image, 1))
    bare_s, engine_s = statistics.median(bare), statistics.median(engine)
    batch4 = _median(lambda: engine_image(n=4), max(1, args.repeats // 2)) / 4

    weights = iter([{"a": 1.0}, {"b": 0.7}, {"a": 0.5, "b": 0.5}, {}] * 100)
    switch_s = _median(lambda: backend.apply_mix(entry, normalize_mix(next(weights)), loras, model=model),
                       args.repeats * 4)

    def reload():
        fresh = StableDiffusionPipeline.from_pretrained(str(tmp / "base"), use_safetensors=True,
                                                        local_files_only=True)
        for name, spec in loras.items():
            p = Path(spec.path)
            fresh.load_lora_weights(str(p.parent), weight_name=p.name, adapter_name=name, use_safetensors=True)
        fresh.set_adapters(["a"], adapter_weights=[1.0])

    reload_s = _median(reload, args.repeats)
    params = sum(p.numel() for p in pipe.unet.parameters()) / 1e6
    print(f"## generation\n\nDevice: CPU ({stdlib_platform.processor() or stdlib_platform.machine()}, "
          f"{args.threads} thread), torch {torch.__version__}. No CUDA GPU was available, so the SD-1.5-sized "
          f"512×512 fp16 run was not made.\nPipeline: random tiny SD (UNet {params:.1f} M parameters), "
          f"{args.size}×{args.size}, {args.steps} steps, guidance 1.0.\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| seconds per image, batch 1 (engine) | {engine_s:.3f} |")
    print(f"| seconds per image, batch 4 (engine) | {batch4:.3f} |")
    print(f"| seconds per image, bare diffusers call | {bare_s:.3f} |")
    print(f"| engine overhead vs bare call | {100 * (engine_s - bare_s) / bare_s:+.1f}% |")
    print(f"| LoRA switch (set_adapters) | {switch_s * 1000:.2f} ms |")
    print(f"| full reload (pipeline + 2 LoRAs) | {reload_s * 1000:.0f} ms |")
    print(f"| switch speed-up vs reload | {reload_s / switch_s:.0f}× |")


if __name__ == "__main__":
    main()
