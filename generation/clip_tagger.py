"""CLIP zero-shot image classification, for the `subject` and `visual_style` rule of creative.autotagging.

The model is whatever CLIP folder the operator puts under MODEL_ROOT (`GENERATION_CLIP_MODEL`, default `clip`):
`config.json`, `model.safetensors`, the tokenizer files and `preprocessor_config.json`, as transformers saves a
`CLIPModel` and its `CLIPProcessor` (e.g. openai/clip-vit-base-patch32 copied once by hand). It is read with
`use_safetensors=True, local_files_only=True`: nothing is downloaded and a folder holding pickled weights is
refused. Without a folder, `clip_classifier()` says so and images get no subject or visual_style tags.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings
from PIL import Image

logger = logging.getLogger(__name__)
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")

_lock = threading.Lock()
_loaded: dict[tuple, ClipClassifier] = {}


class ClipClassifier:
    """creative.autotagging.ZeroShotImageClassifier over a local CLIPModel: the softmax of its image-text logits."""

    def __init__(self, folder: Path):
        from transformers import CLIPModel, CLIPProcessor

        self.folder = folder
        self.model = CLIPModel.from_pretrained(str(folder), use_safetensors=True, local_files_only=True).eval()
        self.processor = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)

    def probabilities(self, image: Image.Image, texts: list[str]) -> list[float]:
        import torch

        inputs = self.processor(text=texts, images=image.convert("RGB"), return_tensors="pt", padding=True)
        with torch.inference_mode():
            logits = self.model(**inputs).logits_per_image[0]
        return [float(p) for p in logits.softmax(-1)]


def clip_folder() -> Path | None:
    """The configured CLIP folder under MODEL_ROOT (None when the setting is empty)."""
    from .registry import model_root

    name = str(getattr(settings, "GENERATION_CLIP_MODEL", "") or "").strip()
    return (model_root() / name) if name else None


def clip_classifier() -> tuple[ClipClassifier | None, str]:
    """The classifier (loaded once per folder and version), or None and the reason in words."""
    folder = clip_folder()
    if folder is None:
        return None, "subject and visual_style are not tagged from pixels: GENERATION_CLIP_MODEL is empty."
    if not (folder / "config.json").is_file():
        return None, (f"subject and visual_style are not tagged from pixels: no CLIP model at {folder} "
                      "(GENERATION_CLIP_MODEL); put a CLIP folder there (config.json, model.safetensors, tokenizer "
                      "and preprocessor_config.json).")
    try:
        folder.resolve().relative_to(clip_folder_root())
    except ValueError:
        return None, f"the CLIP model folder {folder} resolves outside MODEL_ROOT; refused."
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        return None, (f"the CLIP model at {folder} holds pickled weights ({', '.join(pickles)}), which can run code "
                      "when loaded; keep only .safetensors.")
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return None, f"the CLIP model at {folder} has no .safetensors weights."
    key = (str(folder.resolve()), *((w.name, w.stat().st_mtime_ns, w.stat().st_size) for w in weights))
    with _lock:
        classifier = _loaded.get(key)
        if classifier is None:
            try:
                classifier = ClipClassifier(folder)
            except Exception as exc:  # a damaged or incomplete folder: tagging goes on without it
                return None, f"the CLIP model at {folder} could not be loaded: {exc}"
            _loaded.clear()  # one CLIP model per process: a new version replaces the old
            _loaded[key] = classifier
    return classifier, f"subject and visual_style from CLIP zero-shot ({folder.name})."


def clip_folder_root() -> Path:
    from .registry import model_root

    return model_root().resolve()
