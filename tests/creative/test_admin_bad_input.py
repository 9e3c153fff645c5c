"""An operator's mistakes in the console are answered on the page, never with a 500.

The named cases are the ones operators met: Stable Diffusion with no base model, the old pre-filled 512×512
kept for a 750×300 placement, a mistyped style, experiment shares that do not sum to 1, a second running
experiment, a malformed exclusion rule. Then every add and change form of the console gets an empty POST,
and every action runs on a selection it cannot apply to: each answers 200 with an error or a message.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from access.roles import OPERATORS
from creative.models import ExclusionRule, StyleVariant
from generation.models import GenerationJob
from ranking import services as ranking
from ranking.models import Experiment
from tests.creative.test_admin_permissions import registered_actions, world  # noqa: F401 - the fixture
from tests.factories import CreativeKitFactory, PlacementFactory
from tests.hardening.factories import role_user

pytestmark = pytest.mark.django_db
CONSOLE_APPS = ("creative", "generation", "ranking")


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(role_user(OPERATORS, username="careless-operator"))
    return client


def page_errors(response) -> str:
    html = response.content.decode()
    assert response.status_code == 200, html[:500]
    assert 'class="errorlist' in html or "errornote" in html, "no error shown on the form"
    return html


def job_form(kit, **changes) -> dict:
    return {"kit": kit.pk, "backend": "procedural", "prompt_template": "{offer}", "mixes": '[{"flat": 1.0}]',
            "images_per_mix": 1, "width": "", "height": "", "seed": "", "steps": "", "guidance": "",
            "scheduler": "default", "strength": 0.5, "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0, **changes}


def test_a_generation_job_with_stable_diffusion_and_no_base_model_is_refused_on_the_form(operator):
    kit = CreativeKitFactory()
    response = operator.post(reverse("admin:generation_generationjob_add"), job_form(kit, backend="diffusers"))
    assert "needs a registered base model" in page_errors(response)
    assert not GenerationJob.objects.exists()


def test_a_square_size_for_a_wide_placement_is_refused_with_a_size_that_fits(operator):
    kit = CreativeKitFactory(placement=PlacementFactory(width=750, height=300))
    response = operator.post(reverse("admin:generation_generationjob_add"), job_form(kit, width=512, height=512))
    html = page_errors(response)
    assert "does not match the placement" in html and "512×208" in html
    assert not GenerationJob.objects.exists()


def test_the_job_form_starts_from_a_size_that_fits_the_placement_and_lists_the_styles(operator):
    kit = CreativeKitFactory(placement=PlacementFactory(width=750, height=300))
    html = operator.get(reverse("admin:generation_generationjob_add") + f"?kit={kit.pk}").content.decode()
    assert 'name="width" value="512"' in html and 'name="height" value="208"' in html
    assert 'name="styles" value="clay"' in html


def test_a_mistyped_style_is_named_on_the_form(operator):
    kit = CreativeKitFactory()
    response = operator.post(reverse("admin:generation_generationjob_add"), job_form(kit, mixes='[{"flta": 1}]'))
    assert "&#x27;flta&#x27; is not a procedural style" in page_errors(response)
    response = operator.post(reverse("admin:generation_generationjob_add"), job_form(kit, styles=["flta"]))
    assert "flta is not one of the available choices" in page_errors(response)
    assert not GenerationJob.objects.exists()


def test_ticked_styles_make_one_set_of_images_each(operator, django_capture_on_commit_callbacks):
    kit = CreativeKitFactory(placement=PlacementFactory(width=300, height=300))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(reverse("admin:generation_generationjob_add"),
                                 job_form(kit, mixes="", styles=["clay", "neon"], steps=2, width=64, height=64))
    assert response.status_code == 302
    assert GenerationJob.objects.get().mixes == [{"clay": 1.0}, {"neon": 1.0}]


def test_experiment_shares_that_do_not_sum_to_one_and_a_second_experiment_are_refused_on_the_form(operator):
    placement = PlacementFactory()
    url = reverse("admin:ranking_experiment_add")
    form = {"slug": "ab-1", "placement": placement.pk, "buckets_text": "control=0.5,random=0.6", "start_anyway": "on"}
    assert "Shares must sum to 1 (got 1.1)." in page_errors(operator.post(url, form))
    ranking.experiment_start(slug="running", placement=placement, buckets="control=0.5,random=0.5")
    form["buckets_text"] = "control=0.5,random=0.5"
    assert "already runs experiment" in page_errors(operator.post(url, form))
    assert list(Experiment.objects.values_list("slug", flat=True)) == ["running"]


def test_starting_an_experiment_with_something_missing_asks_for_confirmation(operator):
    placement = PlacementFactory()
    url = reverse("admin:ranking_experiment_add")
    form = {"slug": "ab-2", "placement": placement.pk, "buckets_text": "control=0.2,random=0.2,model=0.6"}
    html = page_errors(operator.post(url, form))
    assert "no trained and active model" in html and "no live control variant" in html
    assert not Experiment.objects.exists()
    assert operator.post(url, {**form, "start_anyway": "on"}).status_code == 302
    assert Experiment.objects.get().slug == "ab-2"


def test_a_malformed_exclusion_rule_is_refused_when_the_kit_is_saved(operator):
    kit = CreativeKitFactory()
    url = reverse("admin:creative_creativekit_change", args=[kit.pk])
    form = {"placement": kit.placement.pk, "name": kit.name, "offer_name": kit.offer_name, "max_variants": 200,
            **{f"{prefix}-{k}": v for prefix in ("copies", "images", "layouts")
               for k, v in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0))},
            "exclusion_rules-TOTAL_FORMS": 2, "exclusion_rules-INITIAL_FORMS": 0,
            "exclusion_rules-0-tag_a": "dominant_colour=red", "exclusion_rules-0-tag_b": "button_color=red",
            "exclusion_rules-1-tag_a": "dominant_color=red", "exclusion_rules-1-tag_b": "button_color red"}
    html = page_errors(operator.post(url, form))
    assert "unknown tag group &#x27;dominant_colour&#x27;" in html and "write a tag as group=value" in html
    assert not ExclusionRule.objects.exists()
    form["exclusion_rules-0-tag_a"], form["exclusion_rules-1-tag_b"] = "dominant_color=red", "button_color=red"
    form["exclusion_rules-TOTAL_FORMS"] = 1
    assert operator.post(url, form).status_code == 302
    assert str(ExclusionRule.objects.get()) == "never dominant_color=red with button_color=red"


def console_admins():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in CONSOLE_APPS:
            yield model, model_admin


def test_every_console_form_answers_an_empty_post_with_its_errors(world, operator):  # noqa: F811
    problems = []
    for model, _ in console_admins():
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        targets = [("add", reverse(f"admin:{info}_add"))]
        first = model.objects.order_by("pk").first()
        if first is not None:
            targets.append(("change", reverse(f"admin:{info}_change", args=[first.pk])))
        for kind, url in targets:
            if operator.get(url).status_code == 403:  # versions, decisions, variants: never added by hand
                continue
            response = operator.post(url, {})
            html = response.content.decode()
            shown = 'class="errorlist' in html or "errornote" in html
            if kind == "change" and response.status_code in (302, 403):
                continue  # a read-only record (the audit trail): viewing only, a POST changes nothing
            if response.status_code != 200 or not shown:
                problems.append(f"{info} {kind}: {response.status_code}, error shown: {shown}")
    assert not problems, "\n".join(problems)


def test_every_console_action_on_a_selection_it_cannot_apply_to_answers_with_a_message(world, operator):  # noqa: F811
    problems = []
    draft = StyleVariant.objects.get()
    draft.status = "draft"
    draft.save()
    for key, model, _, _, name in registered_actions():
        if model._meta.app_label not in CONSOLE_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for selection in ([999_999], list(model.objects.order_by("pk").values_list("pk", flat=True)[:2])):
            response = operator.post(url, {"action": name, "index": 0, "_selected_action": selection,
                                           "confirm": "yes", "post": "yes"}, follow=True)
            said = [str(m) for m in get_messages(response.wsgi_request)]
            if response.get("Content-Disposition", "").startswith("attachment"):
                continue  # an export: the file is the answer
            if response.status_code != 200 or (not said and "errornote" not in response.content.decode()
                                               and name != "delete_selected"):
                problems.append(f"{key} on {selection}: {response.status_code} {said}")
    assert not problems, "\n".join(problems)
