"""ControlNets and IP-Adapters are registered like base models and used on jobs: an operator keeps the structure
of a brand image (line art) and the look of a style reference, and the image replays from its provenance."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw

from generation import services
from generation.registry import controlnet_register, ip_adapter_register


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _pixels(material) -> np.ndarray:
    with material.file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def _brand_image() -> Image.Image:
    brand = Image.new("RGB", (48, 48), (240, 240, 240))
    ImageDraw.Draw(brand).ellipse([8, 8, 40, 40], outline=(0, 0, 0), width=2)
    return brand


@pytest.fixture
def lineart_net(tiny_model, tiny_controlnet):
    return controlnet_register(name="logo-lines", path="controlnets/canny.safetensors", base_model=tiny_model,
                               kind="lineart")


@pytest.fixture
def style_adapter(tiny_model, tiny_ip_adapter):
    return ip_adapter_register(name="brand-style", path="ip-adapters/style.safetensors",
                               image_encoder_path="ip-adapters/image_encoder", base_model=tiny_model)


def test_a_controlnet_and_an_ip_adapter_register_with_their_hashes(lineart_net, style_adapter):
    assert lineart_net.kind == "lineart" and len(lineart_net.sha256) == 64
    assert style_adapter.image_encoder_path == "ip-adapters/image_encoder"
    assert len(style_adapter.sha256) == 64 and len(style_adapter.image_encoder_sha256) == 64


def test_an_ip_adapter_for_another_architecture_is_refused(tiny_model, model_root):
    from tests.support.tiny_pipelines import save_tiny_ip_adapter, tiny_pipeline

    save_tiny_ip_adapter(model_root / "narrow" / "style.safetensors", pipeline=tiny_pipeline(channels=(16, 32)))
    with pytest.raises(ValidationError, match="does not fit tiny-sd"):
        ip_adapter_register(name="narrow", path="narrow/style.safetensors", image_encoder_path="narrow/image_encoder",
                            base_model=tiny_model)


def test_an_ip_adapter_is_refused_when_it_is_a_lora_or_its_encoder_is_pickled(tiny_model, tiny_ip_adapter, model_root):
    with pytest.raises(ValidationError, match="not an IP-Adapter"):
        ip_adapter_register(name="lora", path="loras/sparkle.safetensors", image_encoder_path="ip-adapters/image_encoder",
                            base_model=tiny_model)
    encoder = model_root / "ip-adapters" / "image_encoder"
    shutil.copy(encoder / "model.safetensors", encoder / "pytorch_model.bin")
    with pytest.raises(ValidationError, match="pickle formats"):
        ip_adapter_register(name="pickled", path="ip-adapters/style.safetensors",
                            image_encoder_path="ip-adapters/image_encoder", base_model=tiny_model)


def test_a_job_keeps_a_brand_images_line_art_and_a_style_references_look_and_replays(
        lineart_net, style_adapter, square_kit):
    from generation.engine import reset_backends
    from generation.provenance import reproduce
    from generation.weights import forget_hashes

    def run(**extensions):
        job = services.job_run(job_id=services.job_create(kit=square_kit, width=32, height=32, seed=9, guidance=2.0,
                                                          **extensions).pk)
        assert job.status == "succeeded", job.error
        return job.images.get()

    plain = _pixels(run())
    structured = run(controlnet=lineart_net, control_image=_png(_brand_image()), control_scale=1.5)
    styled = run(ip_adapter=style_adapter, style_image=_png(Image.new("RGB", (48, 48), (255, 0, 0))),
                 ip_adapter_scale=1.0)
    both = run(controlnet=lineart_net, control_image=_png(_brand_image()), ip_adapter=style_adapter,
               style_image=_png(Image.new("RGB", (48, 48), (0, 0, 255))))
    for material in (structured, styled, both):
        assert np.abs(_pixels(material).astype(int) - plain.astype(int)).mean() > 1.0
    record = both.provenance
    assert record["controlnet"] == {"name": "logo-lines", "kind": "lineart", "path": "controlnets/canny.safetensors",
                                    "sha256": lineart_net.sha256, "scale": 1.0}
    assert record["ip_adapter"]["sha256"] == style_adapter.sha256 and record["ip_adapter"]["scale"] == 0.6
    assert record["control_image_sha256"] and record["style_image_sha256"]
    # A cold worker replays it from the PNG alone.
    with both.file.open("rb") as fh:
        png = fh.read()
    reset_backends()
    forget_hashes()
    assert np.array_equal(np.asarray(reproduce(png).convert("RGB")), _pixels(both))


def test_controlnet_and_ip_adapter_say_what_they_need(lineart_net, style_adapter, square_kit):
    with pytest.raises(ValidationError, match="structure it keeps") as needs_image:
        services.job_create(kit=square_kit, controlnet=lineart_net, width=32, height=32)
    assert "control_image" in needs_image.value.message_dict
    with pytest.raises(ValidationError, match="style reference") as needs_style:
        services.job_create(kit=square_kit, ip_adapter=style_adapter, width=32, height=32)
    assert "style_image" in needs_style.value.message_dict
    with pytest.raises(ValidationError, match="between 0 and 1") as scale:
        services.job_create(kit=square_kit, ip_adapter=style_adapter, ip_adapter_scale=3.0,
                            style_image=_png(Image.new("RGB", (16, 16))), width=32, height=32)
    assert "ip_adapter_scale" in scale.value.message_dict
    with pytest.raises(ValidationError, match="diffusers backend"):
        services.job_create(kit=square_kit, backend="procedural", controlnet=lineart_net,
                            control_image=_png(_brand_image()), width=32, height=32)
    with pytest.raises(ValidationError, match="text-to-image only"):
        services.job_create(kit=square_kit, controlnet=lineart_net, control_image=_png(_brand_image()),
                            init_image=_png(_brand_image()), width=32, height=32)


def test_an_operator_registers_a_controlnet_in_the_admin_and_runs_a_job_with_it(
        staff_client, tiny_model, tiny_controlnet, square_kit, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from generation.models import ControlNet, GenerationJob

    add = reverse("admin:generation_controlnet_add")
    form = {"name": "lines", "base_model": tiny_model.pk, "kind": "lineart", "default_scale": 1.0}
    refused = staff_client.post(add, {**form, "path": "loras/sparkle.safetensors"})
    assert refused.status_code == 200 and "no readable ControlNet config" in refused.content.decode()
    assert staff_client.post(add, {**form, "path": "controlnets/canny.safetensors"}).status_code == 302
    net = ControlNet.objects.get(name="lines")
    assert len(net.sha256) == 64
    job_form = {"kit": square_kit.pk, "backend": "diffusers", "base_model": tiny_model.pk,
                "prompt_template": "{offer}", "mixes": "[{}]", "images_per_mix": 1, "width": 32, "height": 32,
                "seed": 4, "steps": 2, "guidance": 1, "scheduler": "default", "strength": 0.5,
                "controlnet": net.pk, "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0}
    missing = staff_client.post(reverse("admin:generation_generationjob_add"), job_form)
    assert missing.status_code == 200 and "structure it keeps" in missing.content.decode()
    upload = SimpleUploadedFile("logo.png", _png(_brand_image()), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:generation_generationjob_add"),
                                     {**job_form, "control_upload": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = GenerationJob.objects.get()
    assert job.controlnet == net and job.control_scale == 1.0 and job.status == "succeeded", job.error
    assert job.images.get().provenance["controlnet"]["kind"] == "lineart"
