"""What a weight file is, without loading it: its SHA-256, its base model's modules, a LoRA's fit.

- `weights_sha256` hashes a file, or a diffusers folder's weight and config files, once at
  registration; the worker hashes again before loading and refuses bytes that changed.
- `base_modules` builds the base model's UNet and text encoder(s) on the meta device (shapes, no
  memory) from its configs: the folder's own, the `<stem>_config` beside a single file, or the
  configs Kaleido ships for the family.
- `lora_mismatches` reads a LoRA through diffusers' own key conversion (kohya, peft and diffusers
  layouts) and lists every adapted layer the base lacks or whose shape differs.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from pathlib import Path

from .families import config_dir

_CHUNK = 8 * 1024 * 1024
_HASHED_SUFFIXES = {".safetensors", ".json", ".txt", ".model"}
_memo: dict[tuple[str, int, int], str] = {}
_memo_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of one file; remembered per (path, size, mtime) inside this process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _memo_lock:
        _memo[key] = value
    return value


def weights_sha256(path: Path) -> str:
    """A file's SHA-256; for a folder, the SHA-256 of its sorted 'relative path  file hash' lines."""
    if not path.is_dir():
        return file_sha256(path)
    lines = [f"{p.relative_to(path).as_posix()}  {file_sha256(p)}"
             for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in _HASHED_SUFFIXES]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def forget_hashes() -> None:
    """Drop remembered hashes (tests that clear every cache)."""
    with _memo_lock:
        _memo.clear()


def sibling_config(path: Path) -> Path:
    return path.with_name(f"{path.stem}_config")


def components_folder(path: Path, family: str) -> Path | None:
    """Where a base model's component configs live: its folder, `<stem>_config/`, or the family's shipped set."""
    if path.is_dir():
        return path
    if sibling_config(path).is_dir():
        return sibling_config(path)
    return config_dir(family)


@lru_cache(maxsize=16)
def _modules(folder: str) -> dict[str, tuple[int, ...]]:
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    root = Path(folder)
    shapes: dict[str, tuple[int, ...]] = {}
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(root / "unet")))
        parts = [("unet", unet)]
        for name in ("text_encoder", "text_encoder_2"):
            config_file = root / name / "config.json"
            if config_file.is_file():
                config = CLIPTextConfig.from_pretrained(str(root / name))
                projected = "WithProjection" in json.dumps(json.loads(config_file.read_text()).get("architectures"))
                parts.append((name, (CLIPTextModelWithProjection if projected else CLIPTextModel)(config)))
    for prefix, model in parts:
        for module_name, module in model.named_modules():
            weight = getattr(module, "weight", None)
            if weight is not None and hasattr(weight, "shape"):
                shapes[f"{prefix}.{module_name}"] = tuple(weight.shape)
                if prefix.startswith("text_encoder") and not module_name.startswith("text_model."):
                    shapes[f"{prefix}.text_model.{module_name}"] = tuple(weight.shape)  # older key layout
    return shapes


def base_modules(path: Path, family: str) -> dict[str, tuple[int, ...]] | None:
    """Module name → weight shape of the base model's UNet and text encoder(s); None without configs."""
    folder = components_folder(path, family)
    if folder is None or not (folder / "unet" / "config.json").is_file():
        return None
    return _modules(str(folder))


_LORA_SUFFIXES = (".lora_A.weight", ".lora_B.weight", ".lora.down.weight", ".lora.up.weight",
                  ".lora_down.weight", ".lora_up.weight")


def lora_layers(path: Path, *, xl: bool = False) -> dict[str, dict[str, tuple[int, ...]]]:
    """Adapted layer → {"down": shape, "up": shape} in diffusers naming, through diffusers' converters."""
    import diffusers

    loader = diffusers.StableDiffusionXLPipeline if xl else diffusers.StableDiffusionPipeline
    state, _alphas = loader.lora_state_dict(str(path.parent), weight_name=path.name, use_safetensors=True,
                                            local_files_only=True)
    layers: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, tensor in state.items():
        for suffix in _LORA_SUFFIXES:
            if key.endswith(suffix):
                role = "down" if ("lora_A" in suffix or "down" in suffix) else "up"
                layers.setdefault(key[: -len(suffix)], {})[role] = tuple(tensor.shape)
                break
    return layers


def lora_mismatches(layers: dict[str, dict[str, tuple[int, ...]]], modules: dict[str, tuple[int, ...]]
                    ) -> tuple[list[str], list[str]]:
    """(layers the base does not have, layers whose in/out width differs from the base's)."""
    missing, misshapen = [], []
    for layer, parts in sorted(layers.items()):
        shape = modules.get(layer)
        if shape is None:
            missing.append(layer)
            continue
        down, up = parts.get("down"), parts.get("up")
        if (down is not None and len(down) > 1 and down[1] != shape[1]) or (up is not None and up[0] != shape[0]):
            misshapen.append(f"{layer} (LoRA {down and down[1]}→{up and up[0]}, base {shape[1]}→{shape[0]})")
    return missing, misshapen
