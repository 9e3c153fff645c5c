"""The console orients an operator: its name, sections in the order of the work, the kit's next steps and
where it stands, the placement's settings in plain words, a model trained from the admin with the gate's
verdict, and each variant at its real size."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from access.roles import OPERATORS
from creative.models import StyleVariant
from ranking.models import ModelVersion
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
    PlacementFactory,
)
from tests.hardening.factories import role_user
from tests.ranking.factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(role_user(OPERATORS))
    return client


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_index_is_kaleido_with_sections_in_the_order_of_the_work(operator):
    html = operator.get(reverse("admin:index")).content.decode()
    assert "<title>" in html and "Kaleido" in html and "Django administration" not in html
    sections = ["1 · Placements and taxonomy", "2 · Creative kits and materials", "3 · Image generation",
                "4 · Variants and review", "5 · Experiments and models"]
    positions = [html.index(title) for title in sections]
    assert positions == sorted(positions)
    assert html.index("Placements") < html.index("Tag groups") < html.index("Creative kits") \
        < html.index("Generation jobs") < html.index("Style variants") < html.index("Experiments") \
        < html.index("Model versions")
    assert 'href="/dashboard/"' in html  # "View site" opens the results dashboard


def test_the_kit_page_offers_the_next_steps_and_counts_its_variants_by_status(operator):
    kit = CreativeKitFactory()
    CopyVariantFactory(kit=kit)
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    page = reverse("admin:creative_creativekit_change", args=[kit.pk])
    html = operator.get(page).content.decode()
    assert f"{reverse('admin:generation_generationjob_add')}?kit={kit.pk}" in html
    assert "2. Generate combinations" in html and "4. Review in the preview grid" in html
    assert "Saving… tagging materials" in html  # a slow save says it is working

    response = operator.post(reverse("admin:creative_kit_step", args=[kit.pk, "combine"]), follow=True)
    assert any("1 new variants" in m for m in said(response))
    operator.post(reverse("admin:creative_kit_step", args=[kit.pk, "render"]))
    assert not kit.variants.filter(rendered_image="").exists()
    html = operator.get(page).content.decode()
    assert "1 draft · 0 approved · 0 live · 0 paused · 0 retired" in html
    unknown = operator.post(reverse("admin:creative_kit_step", args=[kit.pk, "explode"]), follow=True)
    assert unknown.status_code == 200 and said(unknown) == ["Unknown step “explode”."]


def test_placement_settings_are_explained_in_plain_words(operator):
    html = operator.get(reverse("admin:creative_placement_add")).content.decode()
    assert "ε-greedy" not in html and "Thompson" not in html
    assert "Mostly the favourite, sometimes another design" in html


def test_train_a_model_now_reports_the_gates_verdict(operator):
    quiet = PlacementFactory()
    url = reverse("admin:creative_placement_changelist")
    response = operator.post(url, {"action": "train_model_now", "_selected_action": [quiet.pk]}, follow=True)
    assert any("Not enough logged traffic" in m for m in said(response))

    placement, variants = catalogue("console-train")
    log_random_traffic(placement, variants, users=2000, seed=3)  # about 240 clicks: enough to train
    response = operator.post(url, {"action": "train_model_now", "_selected_action": [placement.pk]}, follow=True)
    version = ModelVersion.objects.get(placement=placement)
    message = next(m for m in said(response) if m.startswith("console-train: Trained"))
    if version.is_active:
        assert "passed the activation gate" in message
    else:
        assert "Not activated:" in message
    listing = operator.get(reverse("admin:ranking_modelversion_changelist")).content.decode()
    assert "passes" in listing or "refused:" in listing


def test_a_variant_opens_at_its_real_size_in_a_phone_frame(operator):
    kit = CreativeKitFactory(placement=PlacementFactory(width=750, height=300))
    CopyVariantFactory(kit=kit)
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    operator.post(reverse("admin:creative_kit_step", args=[kit.pk, "combine"]))
    operator.post(reverse("admin:creative_kit_step", args=[kit.pk, "render"]))
    variant = StyleVariant.objects.get(kit=kit)
    url = reverse("admin:creative_variant_actual_size", args=[variant.pk])
    assert url in operator.get(reverse("admin:creative_kit_preview", args=[kit.pk])).content.decode()
    html = operator.get(url).content.decode()
    assert 'aria-label="phone frame"' in html
    assert 'width="375" height="150"' in html and 'width="750" height="300"' in html


def test_the_experiment_page_shows_the_checklist_the_results_and_the_dashboard(operator):
    from ranking import services as ranking

    placement, _ = catalogue("console-ab")
    experiment = ranking.experiment_start(slug="console-ab", placement=placement,
                                          buckets="control=0.5,random=0.5")
    html = operator.get(reverse("admin:ranking_experiment_change", args=[experiment.pk])).content.decode()
    assert "36 live variant(s) to compare" in html and "control variant red-single-benefit-photo is live" in html
    assert "<th>CTR 95% interval</th>" in html and "<td>control (control)</td>" in html
    assert 'href="/dashboard/?experiment=console-ab"' in html


def test_tags_are_picked_from_the_taxonomy_instead_of_typed_as_json(operator):
    kit = CreativeKitFactory()
    copy = CopyVariantFactory(kit=kit, tags={"appeal": ["benefit"]})
    url = reverse("admin:creative_copyvariant_change", args=[copy.pk])
    html = operator.get(url).content.decode()
    assert 'name="tags__tone"' in html and '<option value="benefit" selected>benefit</option>' in html
    form = {"kit": kit.pk, "headline": copy.headline, "subline": "", "cta": copy.cta, "language": "en",
            "tags__picker": "1", "tags__appeal": ["benefit", "urgency"], "tags__tone": "friendly", "tag_sources": "{}"}
    assert operator.post(url, form).status_code == 302
    copy.refresh_from_db()
    assert copy.tags["appeal"] == ["benefit", "urgency"] and copy.tags["tone"] == ["friendly"]
    assert copy.tag_sources["tone"]["source"] == "manual"
    form["tags__tone"] = ["friendly", "formal"]  # one value only for tone: said on the form
    html = operator.post(url, form).content.decode()
    assert "&#x27;tone&#x27; takes one value" in html


def test_many_images_upload_at_once_and_each_bad_one_is_named(operator):
    import io
    import zipfile

    from tests.factories import png_bytes

    kit = CreativeKitFactory()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("shots/third.png", png_bytes())
        zipped.writestr("shots/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    files = [SimpleUploadedFile("first.png", png_bytes()), SimpleUploadedFile("second.png", png_bytes()),
             SimpleUploadedFile("broken.png", b"not an image"), SimpleUploadedFile("more.zip", archive.getvalue())]
    response = operator.post(reverse("admin:creative_image_upload"), {"kit": kit.pk, "files": files}, follow=True)
    messages = said(response)
    assert f"Added 3 image(s) to {kit}." in messages
    assert any(m.startswith("broken.png: ") for m in messages)
    assert any(m.startswith("more.zip/shots/logo.svg: SVG and HTML files are not accepted") for m in messages)
    assert kit.images.count() == 3 and set(kit.images.values_list("review", flat=True)) == {"accepted"}


def test_the_copy_csv_template_imports_as_it_is(operator):
    kit = CreativeKitFactory()
    template = operator.get(reverse("admin:creative_copy_template"))
    assert template["Content-Disposition"].startswith("attachment")
    upload = SimpleUploadedFile("copy-variants-template.csv", template.content)
    assert operator.post(reverse("admin:creative_copy_import"), {"kit": kit.pk, "file": upload}).status_code == 302
    copy = kit.copies.get()
    assert copy.headline == "Earn 4% on your savings" and copy.tags["appeal"] == ["benefit", "urgency"]
