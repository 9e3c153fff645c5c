"""An operator registers weights: only safetensors files inside MODEL_ROOT, fitting their base model."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from generation.models import BaseModel
from generation.registry import base_model_register, lora_register


def test_a_diffusers_folder_registers_and_records_its_text_width(tiny_model):
    assert tiny_model.path == "tiny-sd"
    assert tiny_model.cross_attention_dim == 32
    assert BaseModel.objects.get(name="tiny-sd").family == "other"


@pytest.mark.parametrize("suffix", [".ckpt", ".bin", ".pt", ".pth"])
def test_pickle_checkpoints_are_refused_with_a_reason(db, model_root, suffix):
    (model_root / f"model{suffix}").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ValidationError) as err:
        base_model_register(name="pickled", path=f"model{suffix}", family="sd15")
    assert "can run arbitrary code" in str(err.value)
    assert not BaseModel.objects.exists()


def test_a_folder_holding_pickled_weights_is_refused(db, model_root):
    (model_root / "tiny-sd" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ValidationError, match="unet/diffusion_pytorch_model.bin"):
        base_model_register(name="mixed", path="tiny-sd", family="other")


def test_paths_outside_model_root_are_refused(db, model_root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (model_root / "escape").symlink_to(outside)
    for path in ["../elsewhere", str(outside), "escape", "/etc/passwd"]:
        with pytest.raises(ValidationError, match="outside MODEL_ROOT"):
            base_model_register(name="escape", path=path, family="other")


def test_a_file_without_a_safetensors_header_is_refused(db, model_root):
    (model_root / "broken.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ValidationError, match="no readable safetensors header"):
        base_model_register(name="broken", path="broken.safetensors", family="sd15")


def test_the_family_must_match_the_weights(db, model_root):
    with pytest.raises(ValidationError, match="768-wide text"):
        base_model_register(name="tiny-as-sd15", path="tiny-sd", family="sd15")


def test_a_lora_registers_against_its_base_model(sparkle):
    assert sparkle.cross_attention_dim == 32
    assert sparkle.implied_tags == {"visual_style": ["3d"]}


def test_a_lora_for_another_family_is_refused(tiny_model):
    with pytest.raises(ValidationError, match="does not fit that family"):
        lora_register(name="wide", path="loras/wide.safetensors", base_model=tiny_model)


def test_a_lora_must_imply_tags_from_the_taxonomy(tiny_model):
    with pytest.raises(ValidationError, match="unknown value"):
        lora_register(name="sparkle", path="loras/sparkle.safetensors", base_model=tiny_model,
                      implied_tags={"visual_style": ["watercolour"]})


def test_registration_hashes_the_weights(tiny_model, sparkle, model_root):
    from generation.weights import file_sha256

    assert len(tiny_model.sha256) == 64
    assert sparkle.sha256 == file_sha256(model_root / "loras" / "sparkle.safetensors")


def test_a_lora_of_another_architecture_is_refused_even_with_the_same_text_width(tiny_model):
    # Its cross-attention reads 32-wide text like the base, but every layer has other channel widths.
    with pytest.raises(ValidationError, match="does not fit tiny-sd") as err:
        lora_register(name="narrow", path="loras/narrow.safetensors", base_model=tiny_model)
    assert "other widths" in str(err.value)


def test_a_lora_for_layers_the_base_lacks_is_refused(tiny_model, model_root):
    import torch
    from safetensors.torch import save_file

    # An SDXL-style LoRA: adapters on transformer blocks the tiny model does not have.
    key = "unet.down_blocks.2.attentions.1.transformer_blocks.7.attn1.to_q"
    save_file({f"{key}.lora_A.weight": torch.zeros(4, 64), f"{key}.lora_B.weight": torch.zeros(64, 4)},
              str(model_root / "loras" / "xl.safetensors"))
    with pytest.raises(ValidationError, match="adapts none of tiny-sd's layers"):
        lora_register(name="xl", path="loras/xl.safetensors", base_model=tiny_model)


def test_a_single_file_checkpoint_registers_with_its_configs_and_no_family_given(db, model_root):
    model = base_model_register(name="tiny-single", path="single/tiny-single.safetensors")
    assert (model.family, model.cross_attention_dim) == ("other", 32)


def test_a_real_family_single_file_without_a_tokenizer_is_refused_with_where_to_put_it(db, model_root):
    import shutil

    from generation.families import detect_family
    from generation.registry import read_safetensors_header

    single = model_root / "single"
    shutil.copy(single / "tiny-single.safetensors", single / "lonely.safetensors")  # no lonely_config/ beside it
    assert detect_family(read_safetensors_header(single / "lonely.safetensors")) == "other"
    with pytest.raises(ValidationError, match="ships no configs"):
        base_model_register(name="lonely", path="single/lonely.safetensors", family="other")


def test_a_controlnet_is_checked_against_its_base_model(tiny_model, tiny_controlnet, model_root):
    from generation.registry import check_controlnet
    from tests.support.tiny_pipelines import save_tiny_controlnet, tiny_pipeline

    assert check_controlnet(path="controlnets/canny.safetensors", base_model=tiny_model) == tiny_controlnet
    save_tiny_controlnet(model_root / "controlnets" / "narrow.safetensors", pipeline=tiny_pipeline(channels=(16, 32)))
    with pytest.raises(ValidationError, match="block_out_channels"):
        check_controlnet(path="controlnets/narrow.safetensors", base_model=tiny_model)
