"""Roles hold in every admin action and every custom admin view.

Each role (operators, analysts, admins, and a staff user in no group) POSTs every action of every registered
ModelAdmin and calls every custom admin view. The actions and views are read from the admin site itself, so
one added later without a declared permission, or missing from the tables below, fails this test.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, reverse

from access.roles import ADMINS, ANALYSTS, OPERATORS
from access.services import api_key_create
from creative.models import StyleVariant
from creative.services.combination import kit_combine
from creative.services.variants import variant_publish
from generation import services as generation
from generation.models import BaseModel, ControlNet, IpAdapter, LoraStyle
from ranking import rollout
from ranking import services as ranking
from ranking.models import ModelVersion
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
)
from tests.hardening.factories import role_user

pytestmark = pytest.mark.django_db

STAFF = "staff (no group)"
ROLES = (OPERATORS, ANALYSTS, ADMINS, STAFF)
WHO = {"view": {ANALYSTS, OPERATORS, ADMINS}, "operate": {OPERATORS, ADMINS}, "admin": {ADMINS}, "nobody": set()}

# Who may run each action, "app.model.action". Analysts only view; operators run the creative, generation and
# ranking consoles; API keys and users are for admins; the decision log is never deleted by hand.
ACTIONS = {
    "auth.group.delete_selected": "admin",
    "auth.user.delete_selected": "admin",
    "access.apikey.delete_selected": "admin",
    "access.apikey.revoke": "admin",
    "creative.taggroup.delete_selected": "operate",
    "creative.placement.delete_selected": "operate",
    "creative.placement.train_model_now": "operate",
    "creative.creativekit.delete_selected": "operate",
    "creative.creativekit.generate_combinations": "operate",
    "creative.creativekit.render_variants": "operate",
    "creative.creativekit.autotag_materials": "operate",
    "creative.copyvariant.delete_selected": "operate",
    "creative.copyvariant.export_csv": "view",
    "creative.copyvariant.export_xlsx": "view",
    "creative.imagematerial.delete_selected": "operate",
    "creative.layouttemplate.delete_selected": "operate",
    "creative.stylevariant.delete_selected": "operate",
    **{f"creative.stylevariant.bulk_{a}": "operate"
       for a in ("approve", "approve_publish", "publish", "pause", "retire", "restore", "approve_revision",
                 "discard_revision", "pin", "unpin", "block", "unblock")},
    "creative.stylevariant.render": "operate",
    "creative.variantauditentry.delete_selected": "nobody",  # the audit trail is never deleted by hand
    "generation.basemodel.delete_selected": "operate",
    "generation.lorastyle.delete_selected": "operate",
    "generation.controlnet.delete_selected": "operate",
    "generation.ipadapter.delete_selected": "operate",
    "generation.generationjob.delete_selected": "operate",
    "generation.generationjob.start_jobs": "operate",
    "generation.generationjob.cancel_jobs": "operate",
    "generation.generationjob.accept_images": "operate",
    "generation.generationjob.autotag_kits": "operate",
    "ranking.experiment.delete_selected": "operate",
    "ranking.experiment.stop": "operate",
    "ranking.modelversion.delete_selected": "operate",
    "ranking.modelversion.activate": "operate",
    "ranking.modelversion.roll_back": "operate",
    "ranking.modelversion.release_gradually": "operate",
    "ranking.modelrollout.check_now": "operate",
    "ranking.modelrollout.cancel": "operate",
    "ranking.modelrollout.delete_selected": "operate",  # with its model version, by whoever may delete versions
    "ranking.decision.delete_selected": "nobody",
}
# Custom admin views (added through get_urls) and who may open them (GET) and use them (POST).
VIEWS = {"creative_kit_preview": ("view", "operate"), "creative_copy_import": ("operate", "operate"),
         "creative_kit_step": ("operate", "operate"), "creative_variant_actual_size": ("view", "view"),
         "creative_copy_template": ("view", "view"), "creative_image_upload": ("operate", "operate"),
         "creative_kit_layouts": ("view", "operate"), "auth_user_password_change": ("admin", "admin")}
# Django's own views check the change permission themselves; ours go through RoleAdmin.guarded_view.
DJANGO_VIEWS = {"auth_user_password_change"}
STANDARD_VIEWS = ("changelist", "add", "history", "delete", "change")
SNAPSHOT_APPS = ("auth", "access", "creative", "generation", "ranking")
# Whose change lists open at all (a role that cannot see a model's list gets 403 for all of its actions).
SEES = {"auth": {ADMINS}, "access": {ADMINS}}


@pytest.fixture
def world():
    """One row of every model the admin lists, so each action has something selected."""
    kit = CreativeKitFactory()
    CopyVariantFactory(kit=kit)
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    kit_combine(kit=kit)
    variant_publish(variant=StyleVariant.objects.get(kit=kit))
    ranking.experiment_start(slug="roles-ab", placement=kit.placement, buckets="control=0.5,random=0.5")
    candidate = ModelVersion.objects.create(version="roles-1", placement=kit.placement, artefact="missing.json",
                                            artefact_sha256="0" * 64)
    rollout.start_rollout(version=candidate.version, force=True, by="roles")
    base = BaseModel.objects.create(name="roles-base", path="roles-base")
    LoraStyle.objects.create(name="roles-flat", base_model=base, path="roles-flat.safetensors")
    ControlNet.objects.create(name="roles-edges", base_model=base, path="roles-edges")
    IpAdapter.objects.create(name="roles-style", base_model=base, path="roles-style.safetensors")
    generation.job_create(kit=kit, backend="procedural", width=80, height=32)
    api_key_create(name="roles bff", scopes=["rank"])
    users = {role: role_user(None if role == STAFF else role, username=f"roles-{role.split()[0]}") for role in ROLES}
    return {"kit": kit, "users": users}


def snapshot() -> dict:
    """Every row of every admin-managed app: what "nothing changed" compares."""
    return {model._meta.label: list(model.objects.order_by("pk").values())
            for label in SNAPSHOT_APPS for model in apps.get_app_config(label).get_models()}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def registered_actions():
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            yield f"{model._meta.app_label}.{model._meta.model_name}.{name}", model, model_admin, func, name


def custom_views():
    for model, model_admin in admin.site._registry.items():
        standard = {f"{model._meta.app_label}_{model._meta.model_name}_{view}" for view in STANDARD_VIEWS}
        for pattern in model_admin.get_urls():
            if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard:
                yield pattern


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_every_action_declares_its_permission_and_is_listed():
    found = {key: func for key, _, _, func, _ in registered_actions()}
    assert set(found) == set(ACTIONS), f"actions added or removed; list them in ACTIONS: {set(found) ^ set(ACTIONS)}"
    undeclared = [key for key, func in found.items() if not getattr(func, "allowed_permissions", None)]
    assert not undeclared, f"actions without allowed_permissions: {undeclared}"


def test_every_custom_view_checks_a_permission_and_is_listed():
    patterns = list(custom_views())
    assert {p.name for p in patterns} == set(VIEWS), "custom admin views added or removed; list them in VIEWS"
    unguarded = [p.name for p in patterns
                 if p.name not in DJANGO_VIEWS and not getattr(p.callback, "admin_permission", None)]
    assert not unguarded, f"custom admin views checking only is_staff (use RoleAdmin.guarded_view): {unguarded}"


def test_each_role_runs_exactly_the_actions_it_may(world):
    mismatches = []
    for role in ROLES:
        client = client_for(world["users"][role])
        for key, model, _, _, name in registered_actions():
            selected = list(model.objects.order_by("pk").values_list("pk", flat=True)[:1])
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            before = snapshot()
            response = client.post(url, {"action": name, "index": 0, "_selected_action": selected}, follow=True)
            refused = [m for m in messages_of(response) if m.startswith("You do not have permission to run")]
            if role in WHO[ACTIONS[key]]:
                if response.status_code != 200 or refused:
                    mismatches.append(f"{role} {key}: allowed, but got {response.status_code} {refused}")
                continue
            if role not in SEES.get(model._meta.app_label, WHO["view"]):  # the change list itself is closed
                ok = response.status_code == 403
            else:  # the list opens again with the refusal, as after any action
                ok = response.redirect_chain and response.status_code == 200 and len(refused) == 1
            if not ok or snapshot() != before:
                mismatches.append(f"{role} {key}: should be refused, got {response.status_code} {messages_of(response)}"
                                  f"{' and rows changed' if snapshot() != before else ''}")
    assert not mismatches, "\n".join(mismatches)


def test_an_analyst_cannot_publish_and_an_operator_can(world):
    variant = StyleVariant.objects.get()
    url = reverse("admin:creative_stylevariant_changelist")
    post = {"action": "bulk_block", "index": 0, "_selected_action": [variant.pk]}

    response = client_for(world["users"][ANALYSTS]).post(url, post, follow=True)
    variant.refresh_from_db()
    assert not variant.blocked
    assert messages_of(response) == [
        "You do not have permission to run “Block (never served)” (it needs the publish permission); nothing was changed."]

    client_for(world["users"][OPERATORS]).post(url, post)
    variant.refresh_from_db()
    assert variant.blocked


def test_custom_views_answer_each_role_as_declared(world):
    kit = world["kit"]
    preview = reverse("admin:creative_kit_preview", args=[kit.pk])
    variant_ids = list(kit.variants.values_list("pk", flat=True))
    import_url = reverse("admin:creative_copy_import")
    mismatches = []
    for role in ROLES:
        client = client_for(world["users"][role])
        checks = [("kit preview GET", client.get(preview).status_code, 200 if role in WHO["view"] else 403)]
        for action in ("approve", "publish", "pause", "retire", "pin", "unpin", "block", "unblock"):
            before = snapshot()
            status = client.post(preview, {"action": action, "variant": variant_ids, "confirm": "yes"}).status_code
            allowed = role in WHO["operate"]
            checks.append((f"kit preview POST {action}", status, 302 if allowed else 403))
            if not allowed and snapshot() != before:
                mismatches.append(f"{role} kit preview {action}: refused but rows changed")
        checks.append(("copy import GET", client.get(import_url).status_code,
                       200 if role in WHO["operate"] else 403))
        upload = SimpleUploadedFile("copies.csv", f"headline,subline,cta,language\nHi {role},,Go,en\n".encode())
        checks.append(("copy import POST", client.post(import_url, {"kit": kit.pk, "file": upload}).status_code,
                       302 if role in WHO["operate"] else 403))
        password = reverse("admin:auth_user_password_change", args=[world["users"][STAFF].pk])
        checks.append(("user password GET", client.get(password).status_code, 200 if role == ADMINS else 403))
        mismatches += [f"{role} {what}: got {got} want {want}" for what, got, want in checks if got != want]
    assert not mismatches, "\n".join(mismatches)
    assert kit.copies.filter(headline__startswith="Hi ").count() == 2  # operators and admins imported theirs
