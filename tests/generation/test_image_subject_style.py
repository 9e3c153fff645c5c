"""Images get subject and visual_style from their pixels by CLIP zero-shot, when a CLIP folder is on disk."""

from __future__ import annotations

import io
import logging

import pytest
import torch
from django.core.files.base import ContentFile
from PIL import Image

from creative.autotagging import label_text, zero_shot_tags
from generation import tagging
from generation.clip_tagger import clip_classifier
from tests.factories import ImageMaterialFactory


def _material(colour=(40, 90, 220)):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return ImageMaterialFactory(file=ContentFile(buffer.getvalue(), name="pic.png"), tags={})


@pytest.fixture
def tiny_clip(settings):
    from tests.support.tiny_pipelines import save_tiny_clip

    settings.GENERATION_CLIP_MODEL = "clip/tiny-clip"
    return save_tiny_clip(settings.MODEL_ROOT / "clip" / "tiny-clip")


def _softmax(folder, picture, group, values):
    """The model's own probabilities for the group's captions, computed here without Kaleido's code."""
    from transformers import CLIPModel, CLIPProcessor

    model, processor = CLIPModel.from_pretrained(str(folder)), CLIPProcessor.from_pretrained(str(folder))
    inputs = processor(text=[label_text(group, v) for v in values], images=picture, return_tensors="pt", padding=True)
    with torch.inference_mode():
        return model(**inputs).logits_per_image[0].softmax(-1).tolist()


def test_an_uploaded_image_gets_the_subject_clip_is_sure_of_and_no_style_it_only_guesses(db, tiny_clip, caplog):
    image = _material()
    with caplog.at_level(logging.INFO, logger="generation.tagging"):
        tagging.image_autotag(image)
    image.refresh_from_db()
    with image.file.open("rb") as fh:
        picture = Image.open(fh).convert("RGB")
    subjects = ["abstract", "chart", "coins", "gold", "person", "product", "scenery"]
    subject_p = _softmax(tiny_clip, picture, "subject", subjects)
    top = max(subject_p)
    assert top >= 2 / 7  # the tiny model favours one subject well past a guess over seven
    assert image.tags["subject"] == sorted(s for s, p in zip(subjects, subject_p, strict=True) if p >= 0.5 * top)
    assert image.tag_sources["subject"] == {"source": "auto", "confidence": pytest.approx(top, abs=1e-4)}
    styles = ["3d", "flat", "illustration", "photo"]
    assert max(_softmax(tiny_clip, picture, "visual_style", styles)) < 2 / 4  # near a guess over four styles
    assert "visual_style" not in image.tags and "visual_style" not in image.tag_sources
    assert f"image {image.pk}: visual_style left untagged" in caplog.text and "minimum confidence 0.50" in caplog.text
    assert image.tags["dominant_color"] == ["blue"]  # the pixel statistics still tag the rest


class _Fixed:
    """A classifier that answers the given probabilities (the rule under test is what is done with them)."""

    def __init__(self, probabilities: list[float]):
        self.answer = probabilities

    def probabilities(self, image, texts):
        assert len(texts) == len(self.answer)
        return self.answer


def test_zero_shot_tags_a_group_only_past_twice_a_guess_and_the_floor():
    picture = Image.new("RGB", (8, 8))
    four = (["3d", "flat", "illustration", "photo"], False)
    tags, skipped = zero_shot_tags(picture, _Fixed([0.1, 0.55, 0.2, 0.15]), groups={"visual_style": four})
    assert tags == {"visual_style": (["flat"], 0.55)} and skipped == {}
    tags, skipped = zero_shot_tags(picture, _Fixed([0.2, 0.45, 0.2, 0.15]), groups={"visual_style": four})
    assert tags == {} and "under the minimum confidence 0.50" in skipped["visual_style"]
    ten = ([f"v{i}" for i in range(10)], True)  # 2/10 = 0.2: the floor decides
    unsure = [0.22] + [0.78 / 9] * 9
    assert zero_shot_tags(picture, _Fixed(unsure), groups={"subject": ten}, floor=0.25)[0] == {}
    assert zero_shot_tags(picture, _Fixed(unsure), groups={"subject": ten}, floor=0.0)[0] == {"subject": (["v0"], 0.22)}


def test_a_group_with_one_value_is_never_tagged_by_a_softmax_that_must_say_1():
    one = _Fixed([1.0])
    tags, skipped = zero_shot_tags(Image.new("RGB", (8, 8)), one, groups={"visual_style": (["photo"], False),
                                                                           "subject": ([], True)})
    assert tags == {}
    assert "visual_style has 1 value(s)" in skipped["visual_style"] and "subject has 0 value(s)" in skipped["subject"]


def test_the_auto_tag_action_says_which_groups_clip_was_not_sure_of(staff_client, tiny_clip):
    from django.urls import reverse

    from generation.models import GenerationJob

    image = _material()
    job = GenerationJob.objects.create(kit=image.kit, backend="procedural", mixes=[{}])
    response = staff_client.post(reverse("admin:generation_generationjob_changelist"),
                                 {"action": "autotag_kits", "_selected_action": [job.pk]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("Left untagged where CLIP was not sure" in m and "visual_style on 1 image(s)" in m
               and "subject on" not in m for m in shown), shown


def test_a_manual_visual_style_survives_and_subject_is_still_tagged(db, tiny_clip):
    image = _material()
    tagging.tags_set_manual(image, group="visual_style", values=["photo"])
    tagging.image_autotag(image)
    image.refresh_from_db()
    assert image.tags["visual_style"] == ["photo"] and image.tag_sources["visual_style"]["source"] == "manual"
    assert image.tag_sources["subject"]["source"] == "auto"


def test_without_a_clip_folder_nothing_is_guessed_and_the_log_says_why(db, settings, caplog):
    settings.GENERATION_CLIP_MODEL = "clip/absent"
    classifier, note = clip_classifier()
    assert classifier is None and "no CLIP model at" in note and "GENERATION_CLIP_MODEL" in note
    image = _material()
    tagging._clip_notes.clear()
    with caplog.at_level(logging.INFO, logger="generation.tagging"):
        tagging.image_autotag(image)
    image.refresh_from_db()
    assert "subject" not in image.tags and "visual_style" not in image.tags and image.tags["dominant_color"]
    assert any("no CLIP model at" in r.getMessage() for r in caplog.records)


def test_a_clip_folder_with_pickled_weights_is_refused(db, tiny_clip):
    (tiny_clip / "pytorch_model.bin").write_bytes(b"not loaded")
    classifier, note = clip_classifier()
    assert classifier is None and "pickled weights (pytorch_model.bin)" in note


def test_the_auto_tag_action_says_when_no_clip_model_is_there(staff_client, settings):
    from django.urls import reverse

    from generation.models import GenerationJob

    settings.GENERATION_CLIP_MODEL = "clip/absent"
    image = _material()
    job = GenerationJob.objects.create(kit=image.kit, backend="procedural", mixes=[{}])
    response = staff_client.post(reverse("admin:generation_generationjob_changelist"),
                                 {"action": "autotag_kits", "_selected_action": [job.pk]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("material(s) tagged" in m and "no CLIP model at" in m for m in shown)
