"""The real diffusers backend on a tiny random pipeline, loaded through registration and the worker's cache."""

from __future__ import annotations

import numpy as np
import pytest

from generation.engine import ImageRequest, get_backend, normalize_mix, run_requests
from generation.services import _lora_specs, _model_spec


def _generate(model, mix=(), seed=7, loras=None, batch=1, prompt="a gold coin banner", guidance=1.0, **overrides):
    backend = get_backend("diffusers")
    requests = [ImageRequest(index=i, prompt=prompt, mix=normalize_mix(mix), width=32, height=32,
                             seed=seed + i, steps=2, guidance=guidance, **overrides) for i in range(batch)]
    out = []
    run_requests(backend=backend, requests=requests, model=_model_spec(model), loras=loras or {},
                 on_step=lambda n: None, on_image=lambda r, img, n: out.append(np.asarray(img)))
    return out


def _specs(model, *names):
    from generation.models import GenerationJob

    return _lora_specs(GenerationJob(backend="diffusers", mixes=[{n: 1.0 for n in names}], base_model=model))


def test_same_seed_gives_the_same_image_and_another_seed_does_not(tiny_model):
    first, again, other = _generate(tiny_model, seed=7)[0], _generate(tiny_model, seed=7)[0], _generate(tiny_model, seed=8)[0]
    assert first.shape == (32, 32, 3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_lora_at_weight_zero_is_the_base_image_and_at_one_changes_it(sparkle, tiny_model):
    loras = _specs(tiny_model, "sparkle")
    base = _generate(tiny_model)[0]
    at_zero = _generate(tiny_model, mix={"sparkle": 0.0}, loras=loras)[0]
    at_one = _generate(tiny_model, mix={"sparkle": 1.0}, loras=loras)[0]
    back_to_base = _generate(tiny_model, loras=loras)[0]
    assert np.array_equal(base, at_zero)
    assert np.abs(base.astype(int) - at_one.astype(int)).mean() > 1.0
    assert np.array_equal(base, back_to_base)


def test_switching_styles_never_reloads_the_pipeline(sparkle, tiny_model):
    backend = get_backend("diffusers")
    loras = _specs(tiny_model, "sparkle")
    for weight in (1.0, 0.0, 0.5, 1.0):
        _generate(tiny_model, mix={"sparkle": weight}, loras=loras)
    assert backend.cache.loads == 1
    (entry,) = [backend.cache.get(k, lambda: None) for k in backend.cache.keys()]
    assert entry.loaded_loras == {f"sparkle_{sparkle.sha256[:12]}"}  # one adapter, named by its file's hash


def test_a_batch_gives_each_image_its_own_seed(tiny_model):
    batch = _generate(tiny_model, seed=7, batch=2)
    alone = _generate(tiny_model, seed=8)[0]
    assert not np.array_equal(batch[0], batch[1])
    assert np.abs(batch[1].astype(int) - alone.astype(int)).max() <= 1  # batch maths may differ in the last bit


def test_image_to_image_keeps_the_picture_at_low_strength(tiny_model):
    from PIL import Image

    init = Image.new("RGB", (32, 32), (200, 30, 30))
    out = _generate(tiny_model, init_image=init, strength=0.5)[0]
    assert out.shape == (32, 32, 3)


def test_the_cache_evicts_the_least_recently_used_pipeline_over_budget():
    import torch

    from generation.engine.cache import PipelineCache

    class Pipe:  # 100 float32 weights = 400 bytes
        def __init__(self):
            self.components = {"unet": torch.nn.Linear(10, 10, bias=False)}

    cache = PipelineCache(budget_bytes=1000)
    cache.get(("a",), Pipe)
    cache.get(("b",), Pipe)
    cache.get(("a",), Pipe)  # a used again: b is now the least recent
    cache.get(("c",), Pipe)
    assert cache.keys() == [("a",), ("c",)]
    assert cache.loads == 3


def test_jobs_are_batched_by_mix_and_size():
    from generation.engine import batches

    reqs = [ImageRequest(index=i, prompt="p", mix=normalize_mix({"a": 1.0} if i % 2 else {}), width=32, height=32,
                         seed=i, steps=2) for i in range(6)]
    groups = batches(reqs, max_batch=2)
    assert [[r.index for r in g] for g in groups] == [[0, 2], [4], [1, 3], [5]]


@pytest.mark.parametrize("style", ["flat", "clay", "photo", "illustration", "neon", "gold"])
def test_procedural_styles_are_deterministic(style):
    from generation.engine.procedural import render_style

    a = np.asarray(render_style(style, size=(96, 40), seed=3))
    b = np.asarray(render_style(style, size=(96, 40), seed=3))
    assert a.shape == (40, 96, 3) and np.array_equal(a, b)


def test_procedural_styles_look_different_from_each_other():
    from generation.engine.procedural import RENDERERS, render_style

    images = {s: np.asarray(render_style(s, size=(96, 40), seed=3)).astype(int) for s in RENDERERS}
    names = sorted(images)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(images[a] - images[b]).mean() > 15, (a, b)


def test_a_single_file_checkpoint_loads_offline_and_draws_what_its_folder_draws(tiny_model, model_root):
    from generation.registry import base_model_register

    single = base_model_register(name="tiny-single", path="single/tiny-single.safetensors", default_steps=2)
    folder_image, single_image = _generate(tiny_model)[0], _generate(single)[0]
    assert np.array_equal(folder_image, single_image)  # the same random weights, in the original layout


def test_two_loras_mix_and_a_re_registered_file_replaces_its_adapter(sparkle, tiny_model, model_root):
    import shutil

    from generation.registry import lora_register

    glow = lora_register(name="glow", path="loras/glow.safetensors", base_model=tiny_model)
    loras = _specs(tiny_model, "sparkle", "glow")
    alone = _generate(tiny_model, mix={"sparkle": 1.0}, loras=loras)[0]
    mixed = _generate(tiny_model, mix={"sparkle": 0.6, "glow": 0.6}, loras=loras)[0]
    assert np.abs(alone.astype(int) - mixed.astype(int)).mean() > 1.0
    # The operator overwrites sparkle's file with other weights and registers it again.
    shutil.copy(model_root / "loras" / "glow.safetensors", model_root / "loras" / "sparkle.safetensors")
    sparkle = lora_register(name="sparkle", path="loras/sparkle.safetensors", base_model=tiny_model,
                            instance=sparkle)
    loras = _specs(tiny_model, "sparkle", "glow")
    as_glow = _generate(tiny_model, mix={"sparkle": 1.0}, loras=loras)[0]
    assert np.array_equal(as_glow, _generate(tiny_model, mix={"glow": 1.0}, loras=loras)[0])  # no worker restart
    backend = get_backend("diffusers")
    (entry,) = [backend.cache.get(k, lambda: None) for k in backend.cache.keys()]
    assert entry.loaded_loras == {f"sparkle_{sparkle.sha256[:12]}", f"glow_{glow.sha256[:12]}"}
    assert backend.unload_lora("sparkle") == 1 and entry.loaded_loras == {f"glow_{glow.sha256[:12]}"}


@pytest.mark.parametrize("sampler", ["dpmpp_2m_karras", "dpmpp_sde_karras", "euler_a", "unipc", "lcm"])
def test_every_sampler_runs_and_is_recorded_with_its_resolved_config(tiny_model, sampler):
    requests = [ImageRequest(index=0, prompt="a gold coin", mix=(), width=32, height=32, seed=3, steps=2,
                             guidance=1.0, scheduler=sampler)]
    images = get_backend("diffusers").generate_batch(requests, model=_model_spec(tiny_model), loras={},
                                                     on_step=lambda n: None)
    config = requests[0].details["scheduler_config"]
    assert images[0].size == (32, 32)
    expected = {"dpmpp_sde_karras": "DPMSolverMultistepScheduler", "euler_a": "EulerAncestralDiscreteScheduler",
                "unipc": "UniPCMultistepScheduler", "lcm": "LCMScheduler"}.get(sampler, "DPMSolverMultistepScheduler")
    assert config["_class_name"] == expected
    if "karras" in sampler:
        assert config["use_karras_sigmas"] is True


def test_out_of_memory_halves_the_batch_and_retries(tiny_model):
    import torch

    from generation.engine.sd import DiffusersBackend

    class SmallGpu(DiffusersBackend):  # the real backend on a device that holds one image at a time
        def generate_batch(self, batch, **kwargs):
            if len(batch) > 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().generate_batch(batch, **kwargs)

    backend = SmallGpu(cache=get_backend("diffusers").cache, device="cpu", max_batch=4)
    requests = [ImageRequest(index=i, prompt="a gold coin banner", mix=(), width=32, height=32, seed=7 + i, steps=2,
                             guidance=1.0) for i in range(3)]
    landed = []
    run_requests(backend=backend, requests=requests, model=_model_spec(tiny_model), loras={}, on_step=lambda n: None,
                 on_image=lambda r, img, n: landed.append((r.index, n)))
    assert landed == [(0, 1), (1, 1), (2, 1)]


def test_a_prompt_longer_than_77_tokens_is_read_to_its_end(tiny_model):
    filler = "a " * 80  # the tiny tokenizer makes one token per word
    gold, clay = _generate(tiny_model, prompt=filler + "gold")[0], _generate(tiny_model, prompt=filler + "clay")[0]
    assert not np.array_equal(gold, clay)  # truncated at 77 tokens, both would be the same picture


def test_prompt_weights_change_the_emphasis_and_weight_one_changes_nothing(tiny_model):
    plain = _generate(tiny_model, prompt="a gold coin banner")[0]
    neutral = _generate(tiny_model, prompt="a (gold:1.0) coin banner")[0]
    heavy = _generate(tiny_model, prompt="a (gold:1.8) coin banner")[0]
    assert np.array_equal(plain, neutral)
    assert not np.array_equal(plain, heavy)


def test_inpainting_keeps_the_product_and_regenerates_the_scene(tiny_model):
    from PIL import Image

    from generation.editing import keep_mask

    product = Image.new("RGB", (32, 32), (20, 200, 20))
    product_mask = Image.new("L", (32, 32), 0)
    product_mask.paste(255, (8, 8, 24, 24))  # the product sits in the middle
    out = _generate(tiny_model, init_image=product, mask_image=keep_mask(product_mask, feather=0), strength=1.0)[0]
    scene = _generate(tiny_model)[0]
    assert (out[8:24, 8:24] == [20, 200, 20]).all()  # the product, pixel for pixel
    assert np.abs(out[:6].astype(int) - [20, 200, 20]).mean() > 30  # a new scene around it
    assert not np.array_equal(out, scene)


def test_outpainting_extends_a_square_picture_to_a_banner(tiny_model):
    from PIL import Image

    from generation.editing import outpaint_canvas

    square = Image.new("RGB", (32, 32), (200, 30, 30))
    canvas, mask = outpaint_canvas(square, (64, 32), overlap=2)
    assert canvas.size == mask.size == (64, 32)
    assert mask.getpixel((2, 16)) == 255 and mask.getpixel((32, 16)) == 0  # new margins painted, picture kept
    requests = [ImageRequest(index=0, prompt="a gold coin banner", mix=(), width=64, height=32, seed=3, steps=2,
                             guidance=1.0, init_image=canvas, mask_image=mask, strength=1.0)]
    (wide,) = get_backend("diffusers").generate_batch(requests, model=_model_spec(tiny_model), loras={},
                                                      on_step=lambda n: None)
    assert wide.size == (64, 32)
    pixels = np.asarray(wide)
    assert (pixels[2:30, 18:46] == [200, 30, 30]).all()  # the original picture, kept in the middle
    assert np.abs(pixels[:, :6].astype(int) - [200, 30, 30]).mean() > 30  # margins painted


def test_canny_edges_outline_a_shape():
    from PIL import Image, ImageDraw

    from generation.editing import canny_edges

    img = Image.new("RGB", (64, 64), (255, 255, 255))
    ImageDraw.Draw(img).rectangle([16, 16, 47, 47], fill=(0, 0, 0))
    edges = np.asarray(canny_edges(img).convert("L")) > 0
    assert edges[16:48, 14:19].any() and edges[16:48, 45:50].any()  # the left and right sides
    assert not edges[24:40, 24:40].any() and not edges[:8, :8].any()  # nothing inside or far outside


def test_a_controlnet_keeps_the_structure_of_a_brand_image(tiny_model, tiny_controlnet):
    from PIL import Image, ImageDraw

    from generation.editing import canny_edges
    from generation.engine import ControlSpec
    from generation.weights import weights_sha256

    brand = Image.new("RGB", (32, 32), (255, 255, 255))
    ImageDraw.Draw(brand).ellipse([6, 6, 26, 26], fill=(0, 0, 0))
    edges = canny_edges(brand)

    def with_control(scale):
        control = ControlSpec(name="canny", path=str(tiny_controlnet), image=edges, scale=scale,
                              sha256=weights_sha256(tiny_controlnet))
        return _generate(tiny_model, control=control)[0]

    plain = _generate(tiny_model)[0]
    assert np.array_equal(with_control(0.0), plain)  # scale 0: the ControlNet adds nothing
    assert np.abs(with_control(1.5).astype(int) - plain.astype(int)).mean() > 1.0


def test_line_art_draws_the_outline_and_the_ink_of_a_logo_but_not_flat_colour():
    from PIL import Image, ImageDraw

    from generation.editing import lineart

    logo = Image.new("RGB", (64, 64), (230, 230, 230))
    draw = ImageDraw.Draw(logo)
    draw.ellipse([12, 12, 52, 52], outline=(0, 0, 0), width=2)  # an inked ring
    draw.rectangle([0, 56, 63, 63], fill=(120, 120, 120))  # a flat grey band: shading, not a line
    lines = np.asarray(lineart(logo).convert("L")) > 0
    assert lines[30:34, 10:16].any() and lines[30:34, 48:54].any()  # both sides of the ring
    assert not lines[26:38, 26:38].any()  # nothing inside it
    assert not lines[60:, 8:56].any()  # the inside of the flat band draws no line


def test_a_depth_map_is_stretched_to_the_full_range_and_an_unknown_kind_is_refused():
    from PIL import Image

    from generation.editing import control_image

    ramp = Image.fromarray(np.tile(np.linspace(60, 140, 32, dtype=np.uint8), (32, 1)), "L")
    depth = np.asarray(control_image("depth", ramp).convert("L"))
    assert depth.min() == 0 and depth.max() == 255
    assert (np.diff(depth[0].astype(int)) >= 0).all()  # the order of near and far is kept
    with pytest.raises(ValueError, match="unknown ControlNet kind"):
        control_image("pose", ramp)


def test_an_ip_adapter_steers_the_image_by_its_style_reference_and_unloads_cleanly(tiny_model, tiny_ip_adapter):
    from PIL import Image

    from generation.engine import IpAdapterSpec
    from generation.weights import weights_sha256

    file, encoder = tiny_ip_adapter

    def styled(colour, scale):
        spec = IpAdapterSpec(name="style", path=str(file), image_encoder=str(encoder), scale=scale,
                             image=Image.new("RGB", (48, 48), colour), sha256=weights_sha256(file),
                             image_encoder_sha256=weights_sha256(encoder))
        return _generate(tiny_model, ip_adapter=spec, guidance=2.0)[0].astype(int)

    plain = _generate(tiny_model, guidance=2.0)[0].astype(int)
    assert np.array_equal(styled((255, 0, 0), 0.0), plain)  # scale 0: the reference adds nothing
    red, blue = styled((255, 0, 0), 1.0), styled((0, 0, 255), 1.0)
    assert np.abs(red - plain).mean() > 1.0
    assert np.abs(red - blue).mean() > 1.0  # another reference, another look
    assert np.array_equal(_generate(tiny_model, guidance=2.0)[0].astype(int), plain)  # unloaded for a plain batch
    assert get_backend("diffusers").cache.loads == 1  # loading and unloading never reloads the pipeline


def test_a_hotswapping_worker_swaps_styles_into_one_slot_and_draws_what_the_plain_worker_draws(
        sparkle, tiny_model, settings):
    from generation.engine import reset_backends
    from generation.engine.sd import DiffusersBackend
    from generation.registry import lora_register

    lora_register(name="glow", path="loras/glow.safetensors", base_model=tiny_model)
    loras = _specs(tiny_model, "sparkle", "glow")
    sequence = [{"sparkle": 1.0}, {"glow": 0.8}, {}, {"sparkle": 0.5}]
    plain = [_generate(tiny_model, mix=mix, loras=loras)[0].astype(int) for mix in sequence]
    reset_backends()
    settings.GENERATION_LORA_MAX_RANK = 8  # hotswap without compiling: the same switching, on CPU
    backend = get_backend("diffusers")
    assert isinstance(backend, DiffusersBackend) and backend.hotswap_rank == 8
    swapped = [_generate(tiny_model, mix=mix, loras=loras)[0].astype(int) for mix in sequence]
    for a, b in zip(plain, swapped, strict=True):
        assert np.abs(a - b).max() <= 1  # the padded slot computes the same image
    (entry,) = [backend.cache.get(k, lambda: None) for k in backend.cache.keys()]
    assert entry.pipe.get_list_adapters()["unet"] == [DiffusersBackend.HOTSWAP_SLOT]  # one slot, never more
    assert backend.cache.loads == 1
    with pytest.raises(Exception, match="swaps one LoRA at a time"):
        _generate(tiny_model, mix={"sparkle": 0.5, "glow": 0.5}, loras=loras)


def test_a_compiling_worker_refuses_a_job_that_mixes_two_loras(sparkle, tiny_model, square_kit, settings):
    from django.core.exceptions import ValidationError

    from generation import services
    from generation.registry import lora_register

    lora_register(name="glow", path="loras/glow.safetensors", base_model=tiny_model)
    settings.GENERATION_COMPILE = True
    with pytest.raises(ValidationError, match="one LoRA at a time") as refused:
        services.job_create(kit=square_kit, mixes=[{"sparkle": 1.0}, {"sparkle": 0.5, "glow": 0.5}], width=32, height=32)
    assert "mix 2" in refused.value.message_dict["mixes"][0]
    assert services.job_create(kit=square_kit, mixes=[{"sparkle": 1.0}, {"glow": 0.7}], width=32, height=32).pk


def test_an_sdxl_pipeline_generates_through_the_engine_with_its_img2img_view(tmp_path):
    from PIL import Image

    from generation.engine import ModelSpec
    from generation.engine.cache import PipelineCache
    from generation.engine.sd import DiffusersBackend
    from tests.support.tiny_pipelines import save_tiny_sdxl_pipeline

    model = ModelSpec(name="tiny-xl", family="sdxl", path=str(save_tiny_sdxl_pipeline(tmp_path / "tiny-xl")))
    backend = DiffusersBackend(cache=PipelineCache(budget_bytes=1 << 30), device="cpu")

    def draw(seed, **overrides):
        request = ImageRequest(index=0, prompt="a (gold:1.2) coin banner", mix=(), width=32, height=32, seed=seed,
                               steps=2, guidance=2.0, **overrides)
        (image,) = backend.generate_batch([request], model=model, loras={}, on_step=lambda n: None)
        return np.asarray(image), request

    first, request = draw(3)
    assert first.shape == (32, 32, 3) and np.array_equal(first, draw(3)[0]) and not np.array_equal(first, draw(4)[0])
    assert type(backend.pipeline_for(model).pipe).__name__ == "StableDiffusionXLPipeline"
    assert request.details["scheduler_config"]["_class_name"] == "EulerDiscreteScheduler"
    restyled, _ = draw(3, init_image=Image.new("RGB", (32, 32), (200, 30, 30)), strength=0.5)
    assert restyled.shape == (32, 32, 3) and backend.cache.loads == 1
