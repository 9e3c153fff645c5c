"""Realistic size on CPU: an SD 1.5-architecture checkpoint (random weights, 1.07 billion parameters) as one
original-layout .safetensors file, registered with a LoRA through the registry, one step at 512×512 with a
LoRA switch, peak memory recorded. Nothing is downloaded: the configs are the ones Kaleido ships.

About 2 GiB on disk (fp16), ~6 GiB of memory and one to three minutes on two cores.
"""

from __future__ import annotations

import gc
import resource
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _sd15_random_pipeline():
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from generation.families import config_dir
    from tests.support.tiny_pipelines import tiny_tokenizer

    folder = config_dir("sd15")
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(folder / "unet")))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(str(folder / "vae")))
    text = CLIPTextModel(CLIPTextConfig.from_pretrained(str(folder / "text_encoder")))
    return StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tiny_tokenizer(),
                                   scheduler=None, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False).to(torch.float16)


def test_an_sd15_sized_single_file_registers_and_generates_at_512_with_a_lora_switch(db, settings, tmp_path):
    import torch

    from generation.engine import ImageRequest, get_backend, normalize_mix, reset_backends
    from generation.registry import base_model_register, lora_register
    from generation.services import _lora_specs, _model_spec
    from generation.single_file import save_single_file
    from tests.support.tiny_pipelines import save_tiny_lora, tiny_tokenizer

    settings.MODEL_ROOT = tmp_path
    settings.GENERATION_DEVICE = "cpu"
    torch.set_num_threads(2)
    reset_backends()
    pipe = _sd15_random_pipeline()
    save_single_file(pipe, tmp_path / "sd15-random.safetensors")
    save_tiny_lora(tmp_path / "loras" / "a.safetensors", pipeline=pipe.to(torch.float32), rank=4, seed=1, scale=0.05)
    del pipe
    gc.collect()
    # A stand-in vocabulary where the CLIP tokenizer files go (they are not weights, and not shipped).
    tiny_tokenizer(save_dir=tmp_path / "tokenizers" / "clip-vit-large-patch14")

    model = base_model_register(name="sd15-random", path="sd15-random.safetensors")  # family read from the keys
    assert (model.family, model.cross_attention_dim, model.default_scheduler) == ("sd15", 768, "dpmpp_2m_karras")
    style = lora_register(name="a", path="loras/a.safetensors", base_model=model)
    from generation.models import GenerationJob

    loras = _lora_specs(GenerationJob(backend="diffusers", mixes=[{"a": 1.0}], base_model=model))
    backend = get_backend("diffusers")

    def one_step(mix):
        request = ImageRequest(index=0, prompt="a gold coin banner", mix=normalize_mix(mix), width=512, height=512,
                               seed=1, steps=1, guidance=1.0, scheduler="euler")
        return np.asarray(backend.generate_batch([request], model=_model_spec(model), loras=loras,
                                                 on_step=lambda n: None)[0])

    base, styled = one_step({}), one_step({"a": 1.0})
    assert base.shape == (512, 512, 3) and styled.shape == (512, 512, 3)
    assert backend.cache.loads == 1 and not np.array_equal(base, styled)  # switched, not reloaded
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2 if sys.platform != "darwin" else 1024 ** 3)
    print(f"\nSD 1.5-sized single file, 512×512, 1 step + LoRA switch: peak RSS {peak_gib:.2f} GiB; "
          f"{style.name} {style.sha256[:12]}")
    assert peak_gib < 12
    reset_backends()
