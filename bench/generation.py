"""Generation benchmark: seconds per image, LoRA switch vs full reload, engine overhead vs bare diffusers.

    .venv/bin/python bench/generation.py [--size 64] [--steps 4] [--repeats 5] [--threads 1]

It runs on CPU with a small randomly initialised pipeline (nothing downloaded).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    import torch
    from diffusers import StableDiffusionPipeline

    from generation.engine import ImageRequest, ModelSpec, normalize_mix, run_requests
    from generation.engine.base import LoraSpec
    from generation.engine.cache import PipelineCache
    from generation.engine.sd import DiffusersBackend
    from generation.tiny import save_tiny_lora, save_tiny_pipeline, tiny_pipeline

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
