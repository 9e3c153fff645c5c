"""An operator uploads a LoRA through the admin instead of copying it under MODEL_ROOT: it is stored,
hashed and checked like a typed path; a file that does not fit, a pickle or an oversized file is refused
on the form and nothing stays behind."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import LoraStyle

pytestmark = pytest.mark.django_db


def lora_form(base, upload) -> dict:
    return {"name": "uploaded", "base_model": base.pk, "path": "", "trigger_words": "sparkle style",
            "default_weight": 0.8, "implied_tags": "{}", "upload": upload}


def test_an_uploaded_lora_is_stored_under_model_root_hashed_and_registered(staff_client, tiny_model, model_root):
    data = (model_root / "loras" / "sparkle.safetensors").read_bytes()
    response = staff_client.post(reverse("admin:generation_lorastyle_add"),
                                 lora_form(tiny_model, SimpleUploadedFile("My Sparkle.safetensors", data)))
    assert response.status_code == 302, response.content.decode()[:1500]
    style = LoraStyle.objects.get(name="uploaded")
    assert style.path == "uploads/lora/my-sparkle.safetensors"
    assert (model_root / style.path).read_bytes() == data
    assert style.sha256 == hashlib.sha256(data).hexdigest()


def test_a_lora_that_does_not_fit_a_pickle_or_an_oversized_file_is_refused_and_removed(
        staff_client, tiny_model, model_root, settings):
    url = reverse("admin:generation_lorastyle_add")
    wide = (model_root / "loras" / "wide.safetensors").read_bytes()
    refused = staff_client.post(url, lora_form(tiny_model, SimpleUploadedFile("wide.safetensors", wide)))
    assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    pickle = staff_client.post(url, lora_form(tiny_model, SimpleUploadedFile("old.ckpt", b"pickle")))
    assert "can run code when loaded" in pickle.content.decode()
    settings.GENERATION_UPLOAD_MAX_BYTES = 100
    big = staff_client.post(url, lora_form(tiny_model, SimpleUploadedFile("big.safetensors", wide)))
    assert "limit for uploaded weights" in big.content.decode()
    assert not LoraStyle.objects.filter(name="uploaded").exists()
    assert not list((model_root / "uploads").rglob("*.safetensors")) if (model_root / "uploads").exists() else True
