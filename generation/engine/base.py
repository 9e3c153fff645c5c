"""What every image backend receives and returns, and how a job's images are batched."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PIL import Image

Mix = tuple[tuple[str, float], ...]  # sorted (style name, weight) pairs; () is the base model alone
# Called once per denoising step with the number of images that step advanced (the batch size), so a batch
# of four counts four image-steps; raising JobCancelled stops the batch.
StepCallback = Callable[[int], None]


class JobCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised from the step callback when the operator cancelled the job."""


class GenerationError(Exception):
    """A job cannot run: a model or LoRA failed to load, an unknown style, a bad size."""


@dataclass(frozen=True)
class ModelSpec:
    """A base model as the worker needs it: absolute path and how to load it."""

    name: str
    family: str
    path: str
    dtype: str = "auto"
    sha256: str = ""  # of the registered bytes; the worker refuses to load weights that no longer match
    width: int = 0  # the model's default size (0: its family's first native size), where the warm-up runs
    height: int = 0


@dataclass(frozen=True)
class LoraSpec:
    name: str
    path: str
    trigger_words: str = ""
    sha256: str = ""  # the adapter is cached under it: a re-registered file is a new adapter


@dataclass(frozen=True)
class ControlSpec:
    """A ControlNet and the structure it keeps: an edge (canny), line-art or depth image at the job's size."""

    name: str
    path: str  # a diffusers folder, or one .safetensors file with "<stem>_config/config.json" beside it
    image: Image.Image = field(repr=False, compare=False)
    scale: float = 1.0
    sha256: str = ""
    kind: str = "canny"  # how `image` was computed from the operator's image (generation.editing.control_image)


@dataclass(frozen=True)
class IpAdapterSpec:
    """An IP-Adapter, its CLIP image encoder and the style reference image it is conditioned on."""

    name: str
    path: str  # one .safetensors file (image_proj.* and ip_adapter.* tensors)
    image_encoder: str  # a folder: config.json and .safetensors weights
    image: Image.Image = field(repr=False, compare=False)
    scale: float = 0.6
    sha256: str = ""
    image_encoder_sha256: str = ""


@dataclass
class ImageRequest:
    index: int
    prompt: str
    mix: Mix
    width: int
    height: int
    seed: int
    steps: int
    guidance: float = 7.0
    scheduler: str = "default"
    negative_prompt: str = ""
    init_image: Image.Image | None = field(default=None, repr=False)
    strength: float = 0.5
    # Inpainting (with init_image): white pixels are regenerated, black ones kept; see generation.editing.
    mask_image: Image.Image | None = field(default=None, repr=False)
    control: ControlSpec | None = field(default=None, repr=False)
    ip_adapter: IpAdapterSpec | None = field(default=None, repr=False)
    # Replaying an image: the exact scheduler (class and config) and the seeds of the batch it was made in.
    scheduler_config: dict | None = field(default=None, repr=False)
    batch_seeds: tuple[int, ...] | None = None
    # Filled by the backend for provenance: resolved scheduler, dtype, device, batch size and index.
    details: dict = field(default_factory=dict, repr=False)

    @property
    def batch_key(self) -> tuple:
        # Images share a batch only when one adapter setting, one size and one mode serve them all.
        control = (self.control.path, self.control.scale, id(self.control.image)) if self.control else None
        ip = (self.ip_adapter.path, self.ip_adapter.scale, id(self.ip_adapter.image)) if self.ip_adapter else None
        return (self.mix, self.width, self.height, self.init_image is not None, self.mask_image is not None,
                control, ip, self.steps, self.guidance, self.scheduler, self.strength)


def normalize_mix(mix: dict[str, float] | Iterable[tuple[str, float]] | None) -> Mix:
    items = mix.items() if isinstance(mix, dict) else (mix or ())
    return tuple(sorted((str(name), float(weight)) for name, weight in items))


def batches(requests: list[ImageRequest], *, max_batch: int) -> list[list[ImageRequest]]:
    """Group by (LoRA mix, size, mode), keep index order inside a group, split at max_batch."""
    groups: dict[tuple, list[ImageRequest]] = {}
    for request in sorted(requests, key=lambda r: r.index):
        groups.setdefault(request.batch_key, []).append(request)
    result: list[list[ImageRequest]] = []
    for group in groups.values():
        it = iter(group)
        while chunk := list(itertools.islice(it, max(1, max_batch))):
            result.append(chunk)
    return result


class Backend(ABC):
    """One way of turning prompts into pictures. The worker keeps one instance per process."""

    name: str = ""

    @abstractmethod
    def generate_batch(
        self, batch: list[ImageRequest], *, model: ModelSpec | None, loras: dict[str, LoraSpec],
        on_step: StepCallback,
    ) -> list[Image.Image]:
        """Images for one batch (same mix and size), in the batch's order."""

    def steps_for(self, request: ImageRequest) -> int:
        """Denoising steps this request will report through on_step."""
        if request.init_image is not None:
            return max(1, int(request.steps * request.strength))
        return request.steps

    def describe(self, *, model: ModelSpec | None) -> dict:
        """What goes into every image's provenance besides the request itself."""
        return {"backend": self.name}
