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
