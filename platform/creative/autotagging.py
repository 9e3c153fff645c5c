"""The auto-tagging rule creative needs, as an interface creative owns.

Creative's admin tags copy and images as operators add them, but the tagger itself (a sentence encoder for
copy, pixel statistics for images) lives in generation, which builds on creative. So creative declares
what it calls (`AutoTagger`) and generation registers its implementation when its app is ready
(`generation.apps`); creative never imports generation. Manual tag groups are never overwritten by any
implementation.

Images' `subject` and `visual_style` come from pixels by zero-shot classification: the rule (which labels, how
each is described, which values a group takes, the confidence, when a group is left untagged) is here,
`zero_shot_tags`; the classifier that scores an image against texts (`ZeroShotImageClassifier`, CLIP in
generation) is behind a protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

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


# -- subject and visual_style from pixels ----------------------------------------------------------------------

PIXEL_GROUPS = ("subject", "visual_style")
# What a zero-shot classifier reads for each value: CLIP was trained on captions, not on tag names. A value an
# operator adds to the taxonomy without a caption here is read as "a picture of <value>" / "a <value> image".
LABEL_TEXTS: dict[str, dict[str, str]] = {
    "subject": {
        "person": "a photo of a person", "gold": "gold bars and gold jewellery", "product": "a product on a plain background",
        "coins": "a pile of coins", "chart": "a financial chart or graph", "scenery": "a landscape scenery",
        "abstract": "an abstract pattern",
    },
    "visual_style": {
        "photo": "a photograph", "flat": "a flat vector illustration", "3d": "a 3d render",
        "illustration": "a hand-drawn illustration",
    },
}
# A multi-valued group (subject) also takes every value at least this share as likely as its most likely one.
MULTI_VALUE_SHARE = 0.5
# A group is tagged only when its most likely value is at least this many times as likely as a uniform guess
# (1/n over n values) and at least the caller's floor: a softmax over the taxonomy always names some value, even
# for an image of none of them, so a near-uniform answer is no answer.
OVER_UNIFORM = 2.0


class ZeroShotImageClassifier(Protocol):
    def probabilities(self, image: Image, texts: list[str]) -> list[float]:
        """How likely the image matches each text, a softmax over the texts given, in their order."""
        ...


def label_text(group: str, value: str) -> str:
    default = f"a picture of {value}" if group == "subject" else f"a {value} image"
    return LABEL_TEXTS.get(group, {}).get(value, default)


def zero_shot_minimum(n_values: int, *, floor: float) -> float:
    """The least probability a group of n values needs from its most likely value to be tagged."""
    return max(OVER_UNIFORM / n_values, floor)


def zero_shot_tags(image: Image, classifier: ZeroShotImageClassifier, *, groups: dict[str, tuple[list[str], bool]],
                   floor: float = 0.0) -> tuple[dict[str, tuple[list[str], float]], dict[str, str]]:
    """({group: (values, confidence)}, {group: why it was left untagged}) for each group ({name: (its taxonomy
    values, multi-valued)}): the most likely value, plus, for a multi-valued group, every value at least
    MULTI_VALUE_SHARE as likely; the confidence is the most likely value's probability, the classifier's own softmax
    over the group's values. A group with fewer than two values (a softmax over one is always 1.0) or whose most
    likely value is under `zero_shot_minimum` is left untagged, and the second dict says why."""
    result: dict[str, tuple[list[str], float]] = {}
    skipped: dict[str, str] = {}
    for group, (values, multi_valued) in groups.items():
        if len(values) < 2:
            skipped[group] = (f"{group} has {len(values)} value(s) in the taxonomy; zero-shot needs two or more "
                              "to choose among")
            continue
        probabilities = classifier.probabilities(image, [label_text(group, v) for v in values])
        top = max(range(len(values)), key=lambda i: probabilities[i])
        minimum = zero_shot_minimum(len(values), floor=floor)
        if probabilities[top] < minimum:
            skipped[group] = (f"{group}: the most likely value ({values[top]}, {probabilities[top]:.2f}) is under the "
                              f"minimum confidence {minimum:.2f} (max of {OVER_UNIFORM:g}/{len(values)} values and "
                              f"the floor {floor:g})")
            continue
        chosen = {values[top]}
        if multi_valued:
            chosen |= {v for v, p in zip(values, probabilities, strict=True)
                       if p >= MULTI_VALUE_SHARE * probabilities[top]}
        result[group] = (sorted(chosen), round(float(probabilities[top]), 4))
    return result, skipped
