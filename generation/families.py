"""Model families: what a checkpoint is, the sizes it was trained at, and the defaults that suit it.

A family is read from the weights themselves (tensor names and shapes), so an operator does not
have to know it. The distilled variants (SD-Turbo, SDXL-Turbo, LCM) share their parent's
architecture: their keys cannot tell them apart, so they are recognised from the safetensors
metadata or the file name ("turbo", "lcm"), and an operator can always name the family.

Each family with a known architecture ships its component configs (JSON only, no weights) under
`generation/configs/<family>/`, so a single-file checkpoint loads offline without any hub access.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONFIG_ROOT = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class FamilyProfile:
    family: str
    config: str | None  # folder under generation/configs, None when the architecture is unknown
    cross_attention_dim: int
    sizes: tuple[tuple[int, int], ...]  # native (width, height) buckets, landscape and portrait
    steps: int
    guidance: float
    scheduler: str
    tokenizers: tuple[str, ...] = ("clip-vit-large-patch14",)  # folder names under MODEL_ROOT/tokenizers


def _buckets(*landscape: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for w, h in landscape:
        out.append((w, h))
        if w != h:
            out.append((h, w))
    return tuple(out)


SD15_SIZES = _buckets((512, 512), (576, 448), (640, 384), (704, 320), (768, 320), (768, 256), (832, 256))
SD2_SIZES = _buckets((768, 768), (896, 640), (960, 576), (1024, 512), (1152, 448), (1280, 384))
SDXL_SIZES = _buckets((1024, 1024), (1152, 896), (1216, 832), (1344, 768), (1536, 640), (1728, 576), (1856, 512))
SD_TURBO_SIZES = _buckets((512, 512), (576, 448), (640, 384), (704, 320), (768, 256))

FAMILIES: dict[str, FamilyProfile] = {
    "sd15": FamilyProfile("sd15", "sd15", 768, SD15_SIZES, steps=25, guidance=7.0, scheduler="dpmpp_2m_karras"),
    "sd2": FamilyProfile("sd2", "sd2", 1024, SD2_SIZES, steps=25, guidance=7.0, scheduler="dpmpp_2m_karras",
                         tokenizers=("clip-vit-h-14",)),
    "sd-turbo": FamilyProfile("sd-turbo", "sd2", 1024, SD_TURBO_SIZES, steps=1, guidance=0.0, scheduler="euler_a",
                              tokenizers=("clip-vit-h-14",)),
    "sdxl": FamilyProfile("sdxl", "sdxl", 2048, SDXL_SIZES, steps=25, guidance=6.0, scheduler="dpmpp_2m_karras",
                          tokenizers=("clip-vit-large-patch14", "clip-vit-bigg-14")),
    "sdxl-turbo": FamilyProfile("sdxl-turbo", "sdxl", 2048, SD_TURBO_SIZES, steps=2, guidance=0.0,
                                scheduler="euler_a", tokenizers=("clip-vit-large-patch14", "clip-vit-bigg-14")),
    "sd15-lcm": FamilyProfile("sd15-lcm", "sd15", 768, SD15_SIZES, steps=6, guidance=1.5, scheduler="lcm"),
    "sdxl-lcm": FamilyProfile("sdxl-lcm", "sdxl", 2048, SDXL_SIZES, steps=6, guidance=1.5, scheduler="lcm",
                              tokenizers=("clip-vit-large-patch14", "clip-vit-bigg-14")),
    # Anything else (tiny test pipelines, unusual fine-tunes): checked by shapes only, its own configs.
    "other": FamilyProfile("other", None, 0, (), steps=25, guidance=7.0, scheduler="default", tokenizers=()),
}
XL_FAMILIES = frozenset(f for f, p in FAMILIES.items() if p.config == "sdxl")
MAX_UPSCALE = 1.25  # a generated image is never enlarged more than this to fill its placement


def profile(family: str) -> FamilyProfile:
    return FAMILIES.get(family, FAMILIES["other"])


def config_dir(family: str) -> Path | None:
    """The shipped diffusers config folder for a family, or None."""
    name = profile(family).config
    return CONFIG_ROOT / name if name else None


def detect_family(header: dict, *, name: str = "") -> str:
    """The family of an original-layout single-file checkpoint, from its tensor names and shapes."""
    keys = [k for k in header if k != "__metadata__"]
    metadata = header.get("__metadata__") or {}
    hint = f"{name} {metadata.get('modelspec.architecture', '')} {metadata.get('modelspec.title', '')}".lower()

    def shape(suffix: str) -> list[int] | None:
        for key in keys:
            if key.endswith(suffix):
                return header[key].get("shape")
        return None

    if any(k.startswith("conditioner.embedders.1.") for k in keys) or any("label_emb.0.0" in k for k in keys):
        base = "sdxl"
    else:
        width = shape("attn2.to_k.weight")
        if width is None:
            return "other"
        base = {768: "sd15", 1024: "sd2"}.get(int(width[1]), "other")
    if base == "other":
        return base
    if "turbo" in hint:
        return {"sd2": "sd-turbo", "sdxl": "sdxl-turbo"}.get(base, base)
    if "lcm" in hint:
        return {"sd15": "sd15-lcm", "sdxl": "sdxl-lcm"}.get(base, base)
    return base


def detect_folder_family(folder: Path) -> str:
    """The family of a diffusers folder from its UNet config."""
    try:
        config = json.loads((folder / "unet" / "config.json").read_text())
    except (OSError, ValueError):
        return "other"
    if list(config.get("block_out_channels", [])) not in ([320, 640, 1280, 1280], [320, 640, 1280]):
        return "other"
    if config.get("addition_embed_type") == "text_time":
        base = "sdxl"
    else:
        base = {768: "sd15", 1024: "sd2"}.get(int(config.get("cross_attention_dim") or 0), "other")
    hint = folder.name.lower()
    if "turbo" in hint:
        return {"sd2": "sd-turbo", "sdxl": "sdxl-turbo"}.get(base, base)
    if "lcm" in hint:
        return {"sd15": "sd15-lcm", "sdxl": "sdxl-lcm"}.get(base, base)
    return base


def native_size(family: str, aspect: float, *, fallback_long_side: int = 512) -> tuple[int, int]:
    """The family's trained size whose aspect is nearest `aspect` (width / height).

    Families without buckets keep the aspect exactly at `fallback_long_side` on the long side.
    """
    sizes = profile(family).sizes
    if not sizes:
        if aspect >= 1:
            w, h = fallback_long_side, fallback_long_side / aspect
        else:
            w, h = fallback_long_side * aspect, fallback_long_side
        return max(8, int(round(w / 8)) * 8), max(8, int(round(h / 8)) * 8)
    import math

    return min(sizes, key=lambda s: (abs(math.log((s[0] / s[1]) / aspect)), -s[0] * s[1]))


def fit_plan(generated: tuple[int, int], target: tuple[int, int], *, max_upscale: float = MAX_UPSCALE) -> dict:
    """How a generated image becomes the placement's size: centre-crop to its aspect, then scale.

    Downscaling is always fine and enlarging up to max_upscale too; an image that would need more is only
    cropped to the placement's aspect and delivered at its own resolution (the composer scales it), never blurred;
    the job runs a "hires fix" pass first when it can (generation.hires), so this is the fallback.
    """
    gw, gh = generated
    tw, th = target
    scale = max(tw / gw, th / gh)  # cover: fill both sides
    if scale > max_upscale:
        tw, th = max(1, round(tw / scale)), max(1, round(th / scale))
        scale = 1.0
    crop_w, crop_h = min(gw, round(tw / scale)), min(gh, round(th / scale))
    left, top = (gw - crop_w) // 2, (gh - crop_h) // 2
    return {"crop": [left, top, left + crop_w, top + crop_h], "size": [tw, th], "scale": round(scale, 4)}


def needs_hires(generated: tuple[int, int], target: tuple[int, int], *, max_upscale: float = MAX_UPSCALE) -> bool:
    """True when filling the placement would enlarge the generated image past max_upscale."""
    return max(target[0] / generated[0], target[1] / generated[1]) > max_upscale


def hires_plan(generated: tuple[int, int], target: tuple[int, int]) -> dict:
    """The "hires fix" geometry: the generated image's centre cropped to the placement's aspect, enlarged to the
    placement's size rounded up to multiples of 8 (what the VAE takes); fit_plan then trims the last pixels."""
    gw, gh = generated
    tw, th = target
    scale = max(tw / gw, th / gh)
    crop_w, crop_h = min(gw, round(tw / scale)), min(gh, round(th / scale))
    left, top = (gw - crop_w) // 2, (gh - crop_h) // 2
    size = [-(-tw // 8) * 8, -(-th // 8) * 8]
    return {"crop": [left, top, left + crop_w, top + crop_h], "size": size, "scale": round(scale, 4)}


def apply_fit(image, plan: dict):
    """Apply a fit_plan to a PIL image (Lanczos, the same every time)."""
    from PIL import Image

    cropped = image.crop(tuple(plan["crop"]))
    size = tuple(plan["size"])
    return cropped if cropped.size == size else cropped.resize(size, Image.Resampling.LANCZOS)


def centre_crop(image, size: tuple[int, int]):
    """An init image brought to (width, height) by cropping its centre to the aspect, never stretching it."""
    return apply_fit(image, fit_plan(image.size, size, max_upscale=float("inf")))
