"""Model families: read from the weights, generated at their trained sizes, fitted to each placement."""

from __future__ import annotations

import pytest
from PIL import Image

from generation.families import FAMILIES, centre_crop, config_dir, detect_family, fit_plan, native_size


def _header(**shapes):
    return {key: {"dtype": "F16", "shape": shape, "data_offsets": [0, 0]} for key, shape in shapes.items()}


ATTN2 = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


@pytest.mark.parametrize(("header", "name", "family"), [
    (_header(**{ATTN2: [320, 768], "cond_stage_model.transformer.text_model.final_layer_norm.weight": [768]}),
     "dreamshaper_8", "sd15"),
    (_header(**{ATTN2: [320, 1024], "cond_stage_model.model.ln_final.weight": [1024]}), "v2-1_768", "sd2"),
    (_header(**{ATTN2: [320, 1024]}), "sd_turbo", "sd-turbo"),
    (_header(**{"model.diffusion_model.label_emb.0.0.weight": [1280, 2816],
                "conditioner.embedders.1.model.ln_final.weight": [1280]}), "juggernautXL", "sdxl"),
    (_header(**{"model.diffusion_model.label_emb.0.0.weight": [1280, 2816]}), "sdxl_turbo_1.0", "sdxl-turbo"),
    (_header(**{ATTN2: [320, 768]}), "lcm-dreamshaper", "sd15-lcm"),
    (_header(**{"first_stage_model.encoder.conv_in.weight": [128, 3, 3, 3]}), "vae-only", "other"),
])
def test_the_family_is_read_from_the_checkpoint_keys(header, name, family):
    assert detect_family(header, name=name) == family


def test_each_family_generates_at_its_trained_size_nearest_the_placement():
    banner = 750 / 300
    assert native_size("sd15", banner) == (768, 320)  # not 512×208 then enlarged
    assert native_size("sdxl", banner) == (1536, 640)
    assert native_size("sdxl", 1.0) == (1024, 1024)
    assert native_size("sd15", 300 / 750) == (320, 768)
    assert native_size("other", banner, fallback_long_side=32) == (32, 16)


def test_distilled_families_default_to_few_steps_and_no_guidance():
    assert (FAMILIES["sdxl-turbo"].steps, FAMILIES["sdxl-turbo"].guidance) == (2, 0.0)
    assert FAMILIES["sd15-lcm"].scheduler == "lcm" and FAMILIES["sd15"].scheduler == "dpmpp_2m_karras"


def test_a_generated_image_is_downscaled_to_its_placement_and_never_enlarged_past_the_limit():
    assert fit_plan((768, 320), (750, 300)) == {"crop": [0, 6, 768, 313], "size": [750, 300], "scale": 0.9766}
    small = fit_plan((32, 32), (300, 300))  # would need 9×: delivered at its own resolution
    assert small["size"] == [32, 32] and small["scale"] == 1.0


def test_an_init_image_is_centre_cropped_not_stretched():
    wide = Image.new("RGB", (200, 100), (0, 0, 255))
    wide.paste((255, 0, 0), (50, 0, 150, 100))  # a red square in the middle, blue bands at the sides
    out = centre_crop(wide, (32, 32))
    assert out.size == (32, 32)
    assert {out.getpixel((0, 16)), out.getpixel((31, 16))} == {(255, 0, 0)}  # the bands were cropped away


@pytest.mark.parametrize(("family", "unet_millions"), [("sd15", 859.5), ("sd2", 865.9), ("sdxl", 2567.5)])
def test_the_shipped_configs_build_the_published_architectures(family, unet_millions):
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(config_dir(family) / "unet")))
    assert sum(p.numel() for p in unet.parameters()) / 1e6 == pytest.approx(unet_millions, abs=0.1)
    assert unet.config.cross_attention_dim == FAMILIES[family].cross_attention_dim


def test_prompt_weighting_syntax_is_parsed_like_a1111():
    from generation.prompts import parse, plain

    assert parse("a (gold:1.5) coin, (clay) [flat] \\(x\\)") == [
        ("a ", 1.0), ("gold", 1.5), (" coin, ", 1.0), ("clay", 1.1), (" ", 1.0), ("flat", 1 / 1.1), (" (x)", 1.0)]
    assert parse("((deep:2))") == [("deep", pytest.approx(2.2))]
    assert plain("a (gold:1.5) coin") == "a gold coin"
