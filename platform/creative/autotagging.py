"""The auto-tagging rule creative needs, as an interface creative owns.

Creative's admin tags copy and images as operators add them, but the tagger itself (a sentence encoder for
copy, pixel statistics for images) lives in generation, which builds on creative. So creative declares
what it calls (`AutoTagger`) and generation registers its implementation when its app is ready
(`generation.apps`); creative never imports generation. Manual tag groups are never overwritten by any
implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .models import CopyVariant, CreativeKit, ImageMaterial


class AutoTagger(Protocol):
    def copies_autotag(self, copies: list[CopyVariant]) -> None: ...
    def copy_autotag(self, copy: CopyVariant) -> CopyVariant: ...
    def image_autotag(self, image: ImageMaterial) -> ImageMaterial: ...
    def kit_autotag(self, kit: CreativeKit) -> int: ...


_tagger: AutoTagger | None = None


def register(tagger: AutoTagger) -> None:
    """Install the implementation (generation does, at start-up)."""
    global _tagger
    _tagger = tagger


def tagger() -> AutoTagger:
    if _tagger is None:
        raise RuntimeError("No auto-tagger is registered: the generation app must be in INSTALLED_APPS.")
    return _tagger
