"""Weights uploaded through the admin: streamed to MODEL_ROOT, size-capped, checked like a registration.

An operator without shell access uploads a base model or a LoRA `.safetensors` file on its admin form. The
file is streamed in chunks (Django keeps a large upload in a temporary file, never in memory) to
`MODEL_ROOT/uploads/<kind>/<name>.safetensors` through a `.part` file renamed when complete, its SHA-256
computed on the way; the form then registers it with the same checks as a typed path (registry), and a
refused file is removed again. Pickled formats are refused by name and by header.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from .registry import model_root, read_safetensors_header, relative_to_root

DEFAULT_MAX_BYTES = 16 * 1024**3  # 16 GiB: the largest single-file SDXL checkpoints are about 7 GB


def upload_max_bytes() -> int:
    return int(getattr(settings, "GENERATION_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))


def weights_store(*, upload, kind: str, field: str = "upload") -> tuple[str, str]:
    """Store an uploaded .safetensors file; returns (path relative to MODEL_ROOT, sha256)."""
    original = Path(upload.name or "").name
    if not original.lower().endswith(".safetensors"):
        raise ValidationError({field: f"'{original[:80]}' is not a .safetensors file (pickled .ckpt, .bin and .pt "
                                      "files can run code when loaded and are refused)."})
    cap = upload_max_bytes()
    if upload.size is not None and upload.size > cap:
        raise ValidationError({field: f"{upload.size:,} bytes is over the {cap:,}-byte limit for uploaded weights."})
    stem = slugify(original[: -len(".safetensors")]) or "weights"
    folder = model_root() / "uploads" / kind
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.safetensors"
    if target.exists():
        raise ValidationError({field: f"{relative_to_root(target)} already exists under MODEL_ROOT: rename the file "
                                      "or register the existing one by its path."})
    partial = target.with_suffix(".part")
    digest, written = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for chunk in upload.chunks():
                written += len(chunk)
                if written > cap:
                    raise ValidationError({field: f"over the {cap:,}-byte limit for uploaded weights."})
                digest.update(chunk)
                out.write(chunk)
        partial.replace(target)
        read_safetensors_header(target, field=field)
    except BaseException:
        partial.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return relative_to_root(target), digest.hexdigest()


def weights_discard(relative_path: str) -> None:
    """Remove an uploaded file that its registration refused."""
    (model_root() / relative_path).unlink(missing_ok=True)
