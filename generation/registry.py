"""Registering base models and LoRA styles: every file is checked before a row is saved.

Why so strict: a pickled checkpoint (.ckpt, .bin, .pt, .pth) runs arbitrary code when
loaded, and a path outside MODEL_ROOT lets an operator form read any file the worker
can. Only safetensors files under MODEL_ROOT are accepted, and the loaders in
`generation.engine` pass `use_safetensors=True` so diffusers never falls back to torch.load.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from creative.taxonomy import validate_tags

from .families import FAMILIES, XL_FAMILIES, detect_family, detect_folder_family, profile
from .models import FAMILY_CROSS_ATTENTION_DIM, BaseModel, ControlNet, IpAdapter, LoraStyle
from .weights import (
    base_modules,
    components_folder,
    lora_layers,
    lora_mismatches,
    sibling_config,
    weights_sha256,
)

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl", ".pickle")
PICKLE_REASON = (
    "pickle formats (.ckpt, .bin, .pt, .pth) can run arbitrary code when loaded; "
    "convert the weights to .safetensors and register that file instead"
)
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit


def model_root() -> Path:
    return Path(settings.MODEL_ROOT).resolve()


def resolve_model_path(raw: str | Path, *, field: str = "path") -> Path:
    """The absolute path for a registered path, which must stay inside MODEL_ROOT (symlinks resolved)."""
    root = model_root()
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValidationError({field: f"'{raw}' is outside MODEL_ROOT ({root}); copy the weights under it."})
    if not resolved.exists():
        raise ValidationError({field: f"'{raw}' does not exist under MODEL_ROOT ({root})."})
    return resolved


def relative_to_root(path: Path) -> str:
    return str(path.relative_to(model_root()))


def read_safetensors_header(path: Path, *, field: str = "path") -> dict:
    """The parsed JSON header of a .safetensors file (names, dtypes, shapes) without loading tensors."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ValidationError({field: f"'{path.name}' refused: {PICKLE_REASON}."})
    if path.suffix.lower() != ".safetensors":
        raise ValidationError({field: f"'{path.name}' is not a .safetensors file."})
    try:
        with path.open("rb") as fh:
            raw_len = fh.read(8)
            if len(raw_len) != 8:
                raise ValueError("file is shorter than a safetensors header")
            (length,) = struct.unpack("<Q", raw_len)
            if length <= 0 or length > _MAX_HEADER_BYTES:
                raise ValueError(f"header length {length} is not plausible")
            header = json.loads(fh.read(length).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({field: f"'{path.name}' has no readable safetensors header: {exc}."}) from exc
    return header


def _tensor_shapes(header: dict) -> dict[str, list[int]]:
    return {k: v.get("shape", []) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


def _base_cross_attention_dim(path: Path, *, field: str = "path") -> int:
    """Check a diffusers folder or single file and return its UNet's text-conditioning width."""
    if path.is_dir():
        pickles = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise ValidationError({field: f"refused: the folder holds {', '.join(pickles[:5])}; {PICKLE_REASON}."})
        if not (path / "model_index.json").is_file():
            raise ValidationError({field: "a diffusers folder needs model_index.json at its top."})
        for component in ("unet", "vae", "text_encoder"):
            files = list((path / component).glob("*.safetensors"))
            if not files:
                raise ValidationError({field: f"'{component}/' has no .safetensors weights."})
            for file in files:
                read_safetensors_header(file, field=field)
        try:
            config = json.loads((path / "unet" / "config.json").read_text())
            return int(config["cross_attention_dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValidationError({field: f"unet/config.json is unreadable: {exc}."}) from exc
    shapes = _tensor_shapes(read_safetensors_header(path, field=field))
    for key, shape in shapes.items():
        # Original-layout checkpoints: the cross-attention key projection maps text width -> channels.
        if key.endswith("attn2.to_k.weight") and len(shape) == 2:
            return int(shape[1])
    raise ValidationError({field: f"'{path.name}' does not look like a Stable Diffusion checkpoint (no UNet cross-attention)."})


def lora_cross_attention_dim(header: dict, *, field: str = "path") -> int:
    """The text width a LoRA's cross-attention adapters expect (0 when it adapts no cross-attention key)."""
    shapes = _tensor_shapes(header)
    if not shapes:
        raise ValidationError({field: "the LoRA file holds no tensors."})
    if not any("lora" in k.lower() for k in shapes):
        raise ValidationError({field: "the file holds no LoRA weights (no 'lora' tensors)."})
    for key, shape in shapes.items():
        lowered = key.lower()
        is_down = "lora_a" in lowered or "lora_down" in lowered or "lora.down" in lowered
        if "attn2" in lowered and ("to_k" in lowered or "to_v" in lowered) and is_down and len(shape) == 2:
            return int(shape[1])
    return 0


def has_tokenizer(folder: Path) -> bool:
    return (folder / "vocab.json").is_file() or (folder / "tokenizer.json").is_file()


def tokenizer_folders(path: Path, family: str) -> list[Path]:
    """Where a single file's tokenizer(s) are read from: `<stem>_config/tokenizer[_2]`, else
    MODEL_ROOT/tokenizers/<name> (tokenizer files are vocabularies, not weights; Kaleido never fetches them)."""
    sibling = sibling_config(path)
    names = profile(family).tokenizers
    found = []
    for i, name in enumerate(names or ("",)):
        sub = "tokenizer" if i == 0 else f"tokenizer_{i + 1}"
        candidates = [sibling / sub] + ([model_root() / "tokenizers" / name] if name else [])
        found.append(next((c for c in candidates if has_tokenizer(c)), candidates[-1]))
    return found


def _check_single_file_loadable(path: Path, family: str, *, field: str = "path") -> None:
    """A single file loads offline only with component configs and a tokenizer on local disk."""
    folder = components_folder(path, family)
    if folder is None:
        raise ValidationError({field: f"'{path.name}' is a single file of an architecture Kaleido ships no configs for "
                                      f"({family}); put its diffusers configs in '{sibling_config(path).name}/' beside it."})
    missing = [str(t) for t in tokenizer_folders(path, family) if not has_tokenizer(t)]
    if missing:
        raise ValidationError({field: f"no tokenizer for '{path.name}': copy the CLIP tokenizer files (vocab.json, "
                                      f"merges.txt; no weights) to {', '.join(missing)}."})


def check_base_model(*, path: str | Path, family: str | None = None) -> tuple[Path, int]:
    """Check a base model's files; `family=None` reads it from the weights. Returns (path, text width)."""
    resolved = resolve_model_path(path)
    dim = _base_cross_attention_dim(resolved)
    family = family or detect(resolved)
    expected = FAMILY_CROSS_ATTENTION_DIM.get(family)
    if expected is not None and dim != expected:
        raise ValidationError(
            {"family": f"a {family} model conditions on {expected}-wide text, but this one on {dim}; pick its real family."}
        )
    if not resolved.is_dir():
        _check_single_file_loadable(resolved, family)
    return resolved, dim


def detect(resolved: Path) -> str:
    """The family of a registered path, read from its weights (folder config or single-file keys)."""
    if resolved.is_dir():
        return detect_folder_family(resolved)
    return detect_family(read_safetensors_header(resolved), name=resolved.stem)


def check_lora(*, path: str | Path, base_model: BaseModel) -> tuple[Path, int]:
    """Check a LoRA file against its base model's modules (names and widths); returns (path, text width)."""
    resolved = resolve_model_path(path)
    if resolved.is_dir():
        raise ValidationError({"path": "a LoRA is one .safetensors file, not a folder."})
    dim = lora_cross_attention_dim(read_safetensors_header(resolved))
    if dim and base_model.cross_attention_dim and dim != base_model.cross_attention_dim:
        raise ValidationError(
            {"path": f"this LoRA was made for {dim}-wide text conditioning, but {base_model.name} "
                     f"({base_model.family}) uses {base_model.cross_attention_dim}: it does not fit that family."}
        )
    base_path = resolve_model_path(base_model.path, field="base_model")
    modules = base_modules(base_path, base_model.family)
    if modules is not None:
        try:
            layers = lora_layers(resolved, xl=base_model.family in XL_FAMILIES)
        except Exception as exc:  # diffusers could not read it as any LoRA layout it knows
            raise ValidationError({"path": f"'{resolved.name}' is not a LoRA diffusers can read: {exc}"}) from exc
        missing, misshapen = lora_mismatches(layers, modules)
        if not layers or len(missing) == len(layers):
            raise ValidationError({"path": f"this LoRA adapts none of {base_model.name}'s layers "
                                           f"(e.g. {', '.join(missing[:2]) or 'no layers at all'}): it was made for "
                                           f"another architecture than {base_model.family}."})
        if missing or misshapen:
            problems = [f"missing in the base: {', '.join(missing[:3])}" if missing else "",
                        f"other widths: {', '.join(misshapen[:3])}" if misshapen else ""]
            raise ValidationError({"path": f"this LoRA does not fit {base_model.name} ({base_model.family}): "
                                           f"{len(missing) + len(misshapen)} of {len(layers)} layers differ; "
                                           + "; ".join(p for p in problems if p)})
    return resolved, dim


def check_controlnet(*, path: str | Path, base_model: BaseModel) -> Path:
    """Check a ControlNet against its base model: safetensors only, and the same UNet shape (block widths and
    text width) as the base, read from configs without loading weights."""
    resolved = resolve_model_path(path)
    if resolved.is_dir():
        config_file = resolved / "config.json"
        weights = list(resolved.glob("*.safetensors"))
        pickles = [p.name for p in resolved.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise ValidationError({"path": f"refused: the folder holds {', '.join(pickles[:3])}; {PICKLE_REASON}."})
        if not weights:
            raise ValidationError({"path": "the ControlNet folder has no .safetensors weights."})
    else:
        read_safetensors_header(resolved)
        config_file = sibling_config(resolved) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError({"path": f"no readable ControlNet config at {config_file.name}: {exc}."}) from exc
    base_folder = components_folder(resolve_model_path(base_model.path, field="base_model"), base_model.family)
    try:
        base = json.loads((base_folder / "unet" / "config.json").read_text()) if base_folder else {}
    except (OSError, ValueError):
        base = {}
    mismatches = [f"{key} {config.get(key)} vs {base.get(key)}" for key in ("block_out_channels", "cross_attention_dim")
                  if base and list(np.atleast_1d(config.get(key))) != list(np.atleast_1d(base.get(key)))]
    if mismatches:
        raise ValidationError({"path": f"this ControlNet does not fit {base_model.name} ({base_model.family}): "
                                       + "; ".join(mismatches) + "."})
    return resolved


def _check_weights_folder(folder: Path, *, field: str, what: str) -> None:
    """A folder of weights: no pickles, a config.json and .safetensors weights with readable headers."""
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise ValidationError({field: f"refused: the {what} folder holds {', '.join(pickles[:3])}; {PICKLE_REASON}."})
    weights = list(folder.glob("*.safetensors"))
    if not weights or not (folder / "config.json").is_file():
        raise ValidationError({field: f"the {what} folder needs config.json and .safetensors weights."})
    for file in weights:
        read_safetensors_header(file, field=field)


def check_ip_adapter(*, path: str | Path, image_encoder: str | Path, base_model: BaseModel) -> tuple[Path, Path]:
    """Check an IP-Adapter file and its CLIP image encoder against the base model, without loading weights:
    one `to_k_ip`/`to_v_ip` pair per cross-attention layer of the base UNet, of that layer's widths, and an
    image projection from the encoder's embedding width to the base's text width."""
    resolved = resolve_model_path(path)
    if resolved.is_dir():
        raise ValidationError({"path": "an IP-Adapter is one .safetensors file (image_proj.* and ip_adapter.* "
                                       "tensors), not a folder."})
    shapes = _tensor_shapes(read_safetensors_header(resolved))
    if not any(k.startswith("image_proj.") for k in shapes) or not any(k.startswith("ip_adapter.") for k in shapes):
        raise ValidationError({"path": "not an IP-Adapter: it needs image_proj.* and ip_adapter.* tensors."})
    encoder = resolve_model_path(image_encoder, field="image_encoder_path")
    if not encoder.is_dir():
        raise ValidationError({"image_encoder_path": "the image encoder is a folder (config.json and .safetensors)."})
    _check_weights_folder(encoder, field="image_encoder_path", what="image encoder")
    problems: list[str] = []
    proj = shapes.get("image_proj.proj.weight")
    if proj is not None:  # the plain IP-Adapter: a linear map to 4 text-width tokens
        try:
            config = json.loads((encoder / "config.json").read_text())
        except ValueError as exc:
            raise ValidationError({"image_encoder_path": f"config.json is unreadable: {exc}."}) from exc
        embed = config.get("projection_dim") or (config.get("vision_config") or {}).get("projection_dim")
        if embed is not None and int(embed) != proj[1]:
            problems.append(f"the image encoder embeds {embed} wide, the adapter expects {proj[1]}")
        if base_model.cross_attention_dim and proj[0] // 4 != base_model.cross_attention_dim:
            problems.append(f"its image tokens are {proj[0] // 4} wide, {base_model.name} reads "
                            f"{base_model.cross_attention_dim}-wide text")
    modules = base_modules(resolve_model_path(base_model.path, field="base_model"), base_model.family)
    if modules is not None:
        cross = [shape for name, shape in modules.items() if name.startswith("unet.") and name.endswith("attn2.to_k")]
        ids = sorted({int(k.split(".")[1]) for k in shapes if k.endswith(".to_k_ip.weight")})
        if len(ids) != len(cross):
            problems.append(f"it adapts {len(ids)} cross-attention layers, {base_model.name} has {len(cross)}")
        else:
            for layer, (key_id, want) in enumerate(zip(ids, cross, strict=True)):
                for part in ("to_k_ip", "to_v_ip"):
                    got = shapes.get(f"ip_adapter.{key_id}.{part}.weight")
                    if got is None or tuple(got) != tuple(want):
                        problems.append(f"layer {layer} {part} is {got}, the base's is {list(want)}")
    if problems:
        raise ValidationError({"path": f"this IP-Adapter does not fit {base_model.name} ({base_model.family}): "
                                       + "; ".join(problems[:4]) + "."})
    return resolved, encoder


_PROFILE_DEFAULTS = ("default_steps", "default_guidance", "default_scheduler", "default_width", "default_height")


@transaction.atomic
def base_model_register(
    *, name: str, path: str | Path, family: str | None = None, instance: BaseModel | None = None, **fields
) -> BaseModel:
    """Check the weights, hash them, and save (or update) a base model; raises ValidationError with the reason.

    Without a family it is read from the weights; a new model takes its family's steps, guidance, sampler
    and native square size unless given."""
    resolved, dim = check_base_model(path=path, family=family)
    family = family or detect(resolved)
    model = instance or BaseModel()
    if instance is None and family in FAMILIES and FAMILIES[family].sizes:
        fam = FAMILIES[family]
        side = fam.sizes[0][0]
        defaults = dict(zip(_PROFILE_DEFAULTS, (fam.steps, fam.guidance, fam.scheduler, side, side), strict=True))
        fields = {**defaults, **fields}
    model.name, model.family, model.path, model.cross_attention_dim = name, family, relative_to_root(resolved), dim
    model.sha256 = weights_sha256(resolved)
    for key, value in fields.items():
        setattr(model, key, value)
    model.full_clean()
    model.save()
    return model


@transaction.atomic
def lora_register(
    *, name: str, path: str | Path, base_model: BaseModel, instance: LoraStyle | None = None,
    implied_tags: dict | None = None, **fields,
) -> LoraStyle:
    """Check the LoRA file against its base model, hash it, and save (or update) the style."""
    resolved, dim = check_lora(path=path, base_model=base_model)
    style = instance or LoraStyle()
    style.name, style.base_model, style.path, style.cross_attention_dim = name, base_model, relative_to_root(resolved), dim
    style.sha256 = weights_sha256(resolved)
    style.implied_tags = validate_tags(implied_tags or {}, field="implied_tags")
    for key, value in fields.items():
        setattr(style, key, value)
    style.full_clean()
    style.save()
    return style


def lora_fits(style: LoraStyle, base_model: BaseModel) -> bool:
    """A LoRA can be mixed into a job on this base model: same family and same text width."""
    same_shape = not style.cross_attention_dim or style.cross_attention_dim == base_model.cross_attention_dim
    return style.base_model.family == base_model.family and same_shape


@transaction.atomic
def controlnet_register(*, name: str, path: str | Path, base_model: BaseModel, kind: str = "canny",
                        instance: ControlNet | None = None, **fields) -> ControlNet:
    """Check a ControlNet against its base model, hash it, and save (or update) it."""
    resolved = check_controlnet(path=path, base_model=base_model)
    net = instance or ControlNet()
    net.name, net.base_model, net.kind, net.path = name, base_model, kind, relative_to_root(resolved)
    net.sha256 = weights_sha256(resolved)
    for key, value in fields.items():
        setattr(net, key, value)
    net.full_clean()
    net.save()
    return net


@transaction.atomic
def ip_adapter_register(*, name: str, path: str | Path, image_encoder_path: str | Path, base_model: BaseModel,
                        instance: IpAdapter | None = None, **fields) -> IpAdapter:
    """Check an IP-Adapter and its image encoder against the base model, hash both, and save (or update) it."""
    resolved, encoder = check_ip_adapter(path=path, image_encoder=image_encoder_path, base_model=base_model)
    adapter = instance or IpAdapter()
    adapter.name, adapter.base_model = name, base_model
    adapter.path, adapter.image_encoder_path = relative_to_root(resolved), relative_to_root(encoder)
    adapter.sha256, adapter.image_encoder_sha256 = weights_sha256(resolved), weights_sha256(encoder)
    for key, value in fields.items():
        setattr(adapter, key, value)
    adapter.full_clean()
    adapter.save()
    return adapter


def extension_fits(extension: ControlNet | IpAdapter, base_model: BaseModel) -> bool:
    """A ControlNet or IP-Adapter registered for one base model also serves models of its family and shape."""
    base = extension.base_model
    return base.pk == base_model.pk or (base.family == base_model.family
                                        and base.cross_attention_dim == base_model.cross_attention_dim
                                        and base.family != "other")
