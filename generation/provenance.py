"""Replayable provenance: everything needed to make an image again, in the database and in the PNG.

An image's provenance names the exact bytes it came from (SHA-256 of the base model, every LoRA and
the init image), the resolved scheduler (class and full config), dtype, device, the batch it was
made in (size, its index, every seed) and library versions. `reproduce(...)` rebuilds the batch
from that record alone, on a cold worker, and returns the same pixels on the same kind of device.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

PNG_KEY = "kaleido:provenance"
PROVENANCE_VERSION = 2
_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def provenance_record(*, job, request, described: dict, loras: dict, fit: dict | None) -> dict:
    """The provenance of one generated image (request fields, resolved backend details, weight hashes)."""
    base = job.base_model
    details = dict(request.details or {})
    record = {
        "version": PROVENANCE_VERSION,
        **described,
        "job": job.pk,
        "index": request.index,
        "base_model": ({"name": base.name, "family": base.family, "path": base.path, "sha256": base.sha256,
                        "dtype": base.dtype} if base else None),
        "mix": dict(request.mix),
        "loras": {n: {"path": _relative(loras[n].path), "sha256": loras[n].sha256, "file": Path(loras[n].path).name}
                  for n, _ in request.mix if n in loras},
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "steps": request.steps,
        "guidance": request.guidance,
        "scheduler": request.scheduler,
        "width": request.width,
        "height": request.height,
        "img2img": request.init_image is not None,
        "strength": request.strength if request.init_image is not None else None,
        "init_image": job.init_image.name if job.init_image else None,
        "init_image_sha256": _image_sha256(job.init_image) if job.init_image else None,
        "mask_image": job.mask_image.name if job.mask_image else None,
        "mask_image_sha256": _image_sha256(job.mask_image) if job.mask_image else None,
        "outpaint": bool(job.outpaint),
        "batch_size": details.pop("batch_size", 1),
        "batch_index": details.pop("batch_index", 0),
        "batch_seeds": details.pop("batch_seeds", [request.seed]),
        "fit": fit,
        **_extension_record(job),
    }
    details.pop("control", None)  # the record above names the registered ControlNet and IP-Adapter fully
    details.pop("ip_adapter", None)
    record.update(details)  # scheduler_config, dtype, device, device_kind from the backend
    return record


def _extension_record(job) -> dict:
    """The ControlNet and IP-Adapter a job used: registered paths and hashes, scale, and the operator's image."""
    record: dict = {"controlnet": None, "ip_adapter": None}
    net = getattr(job, "controlnet", None)
    if net is not None and job.control_image:
        record["controlnet"] = {"name": net.name, "kind": net.kind, "path": net.path, "sha256": net.sha256,
                                "scale": job.control_scale}
        record["control_image"], record["control_image_sha256"] = job.control_image.name, _image_sha256(job.control_image)
    adapter = getattr(job, "ip_adapter", None)
    if adapter is not None and job.style_image:
        record["ip_adapter"] = {"name": adapter.name, "path": adapter.path, "sha256": adapter.sha256,
                                "image_encoder_path": adapter.image_encoder_path,
                                "image_encoder_sha256": adapter.image_encoder_sha256, "scale": job.ip_adapter_scale}
        record["style_image"], record["style_image_sha256"] = job.style_image.name, _image_sha256(job.style_image)
    return record


def _relative(path: str) -> str:
    from .registry import model_root

    try:
        return str(Path(path).resolve().relative_to(model_root()))
    except ValueError:
        return str(path)


def _image_sha256(field) -> str:
    with field.open("rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def png_bytes(image: Image.Image, provenance: dict) -> bytes:
    """The PNG with its provenance as text chunks: Kaleido's JSON, and an A1111-style 'parameters' line."""
    info = PngInfo()
    info.add_text(PNG_KEY, json.dumps(provenance, sort_keys=True, default=str))
    parameters = (f"{provenance.get('prompt', '')}\nNegative prompt: {provenance.get('negative_prompt', '')}\n"
                  f"Steps: {provenance.get('steps')}, Sampler: {provenance.get('scheduler')}, "
                  f"CFG scale: {provenance.get('guidance')}, Seed: {provenance.get('seed')}, "
                  f"Size: {provenance.get('width')}x{provenance.get('height')}")
    base = provenance.get("base_model") or {}
    if base.get("sha256"):
        parameters += f", Model hash: {base['sha256'][:10]}, Model: {base.get('name')}"
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_png_provenance(data: bytes) -> dict:
    """The provenance stored in a Kaleido PNG; ValueError when it has none."""
    with Image.open(io.BytesIO(data)) as img:
        raw = (getattr(img, "text", None) or {}).get(PNG_KEY)
    if not raw:
        raise ValueError("this PNG carries no Kaleido provenance")
    return json.loads(raw)


def reproduce(source) -> Image.Image:
    """Generate an image again from its provenance alone: an ImageMaterial, PNG bytes, or the record.

    Weights are found by their registered paths and must still hash the same; the image's whole batch
    is generated again (batched maths can differ in the last bit from a single image) and its member returned.
    """
    from .engine import (
        ControlSpec,
        GenerationError,
        ImageRequest,
        IpAdapterSpec,
        LoraSpec,
        ModelSpec,
        get_backend,
        normalize_mix,
    )
    from .families import apply_fit
    from .registry import resolve_model_path

    record = _record(source)
    if record.get("version", 1) < PROVENANCE_VERSION:
        raise GenerationError("this image's provenance predates replayable provenance; it cannot be replayed.")
    backend = get_backend(record["backend"])
    base = record.get("base_model")
    model = None
    if base:
        model = ModelSpec(name=base["name"], family=base["family"], path=str(resolve_model_path(base["path"])),
                          dtype=_DTYPES.get(record.get("dtype", ""), base.get("dtype", "auto")), sha256=base["sha256"])
    loras = {name: LoraSpec(name=name, path=str(resolve_model_path(spec["path"])), sha256=spec["sha256"])
             for name, spec in record.get("loras", {}).items()}
    init = _stored_image(record, "init_image")
    mask = _stored_image(record, "mask_image")
    if init is not None and mask is not None:
        mask = mask.convert("L")
    if init is not None and record.get("outpaint"):
        from .editing import outpaint_canvas

        init, mask = outpaint_canvas(init, (record["width"], record["height"]))
    control = ip = None
    if record.get("controlnet"):
        from .editing import control_image

        net = record["controlnet"]
        control = ControlSpec(name=net["name"], path=str(resolve_model_path(net["path"])), kind=net["kind"],
                              image=control_image(net["kind"], _stored_image(record, "control_image")),
                              scale=net["scale"], sha256=net["sha256"])
    if record.get("ip_adapter"):
        spec = record["ip_adapter"]
        ip = IpAdapterSpec(name=spec["name"], path=str(resolve_model_path(spec["path"])),
                           image_encoder=str(resolve_model_path(spec["image_encoder_path"])),
                           image=_stored_image(record, "style_image"), scale=spec["scale"], sha256=spec["sha256"],
                           image_encoder_sha256=spec["image_encoder_sha256"])
    seeds = record.get("batch_seeds") or [record["seed"]]
    requests = [
        ImageRequest(index=i, prompt=record["prompt"], negative_prompt=record.get("negative_prompt", ""),
                     mix=normalize_mix(record.get("mix")), width=record["width"], height=record["height"], seed=seed,
                     steps=record["steps"], guidance=record["guidance"], scheduler=record.get("scheduler", "default"),
                     init_image=init, strength=record.get("strength") or 0.5, mask_image=mask,
                     scheduler_config=record.get("scheduler_config"), control=control, ip_adapter=ip)
        for i, seed in enumerate(seeds)
    ]
    images = backend.generate_batch(requests, model=model, loras=loras, on_step=lambda n: None)
    index = record.get("batch_index", 0)
    image = images[index]
    hires = record.get("hires")
    if hires and not hires.get("skipped"):  # the hires pass again, with the scheduler it ran with (generation.hires)
        from .hires import hires_fix

        image, _ = hires_fix(backend=backend, request=requests[index], image=image, model=model, loras=loras,
                             target=tuple(hires["target"]), strength=hires["strength"], on_step=lambda n: None,
                             scheduler_config=hires.get("scheduler_config"),
                             capped_at=tuple(hires["capped_at"]) if hires.get("capped_at") else None)
    return apply_fit(image, record["fit"]) if record.get("fit") else image



def _record(source) -> dict:
    if isinstance(source, dict):
        return source
    if isinstance(source, bytes | bytearray):
        return read_png_provenance(bytes(source))
    provenance = getattr(source, "provenance", None)
    if provenance:
        return provenance
    with source.file.open("rb") as fh:
        return read_png_provenance(fh.read())


def _stored_image(record: dict, key: str) -> Image.Image | None:
    if not record.get(key):
        return None
    from django.core.files.storage import default_storage

    from .engine import GenerationError

    with default_storage.open(record[key], "rb") as fh:
        data = fh.read()
    if record.get(f"{key}_sha256") and hashlib.sha256(data).hexdigest() != record[f"{key}_sha256"]:
        raise GenerationError(f"the {key.replace('_', ' ')} changed since the image was made (SHA-256 differs).")
    return Image.open(io.BytesIO(data)).convert("RGB")
