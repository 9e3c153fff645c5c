"""Generation fixtures: one tiny SD pipeline and LoRAs built per session, copied under each test's MODEL_ROOT."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _progress_every_step(settings):
    """Tiny steps take milliseconds: write progress at every one, so tests can watch each (throttling has its
    own test)."""
    settings.GENERATION_PROGRESS_S = 0


@pytest.fixture(autouse=True)
def _no_hires_pass(settings):
    """Tiny pipelines draw 32 px images for 300 px placements, which would send every job through the hires pass;
    it has its own tests (test_hires.py), which turn it back on."""
    settings.GENERATION_HIRES_STRENGTH = 0


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A tiny random pipeline saved as a diffusers folder, a LoRA for it, and one for a different text width."""
    from tests.support.tiny_pipelines import save_tiny_lora, save_tiny_pipeline, tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-weights")
    save_tiny_pipeline(root / "tiny-sd")
    save_tiny_lora(root / "loras" / "sparkle.safetensors", seed=1)
    save_tiny_lora(root / "loras" / "wide.safetensors", pipeline=tiny_pipeline(cross_attention_dim=16), seed=2)
    # Same text width as the tiny model, other channel widths: another architecture's LoRA.
    save_tiny_lora(root / "loras" / "narrow.safetensors", pipeline=tiny_pipeline(channels=(16, 32)), seed=3)
    save_tiny_lora(root / "loras" / "glow.safetensors", seed=4)
    # The same weights as one original-layout file, with its (weight-free) configs beside it.
    from generation.single_file import save_component_configs, save_single_file

    pipe = tiny_pipeline()
    save_single_file(pipe, root / "single" / "tiny-single.safetensors")
    save_component_configs(pipe, root / "single" / "tiny-single_config")
    return root


@pytest.fixture
def model_root(settings, tiny_weights):
    """MODEL_ROOT of this test, holding copies of the tiny weights (paths must stay inside it)."""
    from generation.engine import reset_backends

    for item in tiny_weights.iterdir():
        shutil.copytree(item, settings.MODEL_ROOT / item.name)
    reset_backends()
    yield settings.MODEL_ROOT
    reset_backends()


@pytest.fixture
def tiny_model(db, model_root):
    from generation.registry import base_model_register

    return base_model_register(name="tiny-sd", path="tiny-sd", family="other", default_steps=2,
                               default_guidance=1.0, default_width=32, default_height=32)


@pytest.fixture
def sparkle(tiny_model):
    from generation.registry import lora_register

    return lora_register(name="sparkle", path="loras/sparkle.safetensors", base_model=tiny_model,
                         trigger_words="sparkle style", implied_tags={"visual_style": ["3d"]}, default_weight=1.0)


@pytest.fixture
def square_kit(db):
    from tests.factories import CreativeKitFactory, PlacementFactory

    return CreativeKitFactory(placement=PlacementFactory(slug="square-card", width=300, height=300),
                              offer_name="Gold Savings Plan")


@pytest.fixture(scope="session")
def encoder():
    """The MiniLM encoder, loaded once for the whole session."""
    from generation.tagging import encoder as load

    return load()


@pytest.fixture
def tiny_controlnet(model_root):
    from tests.support.tiny_pipelines import save_tiny_controlnet

    return save_tiny_controlnet(model_root / "controlnets" / "canny.safetensors")


@pytest.fixture
def tiny_ip_adapter(model_root):
    """A random IP-Adapter for the tiny model and its tiny CLIP image encoder, under MODEL_ROOT."""
    from tests.support.tiny_pipelines import save_tiny_ip_adapter

    return save_tiny_ip_adapter(model_root / "ip-adapters" / "style.safetensors")
