"""People, keys and a small served world for the hardening tests."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from access.roles import ADMINS, ANALYSTS, OPERATORS, sync_role_permissions
from access.services import api_key_create
from ranking import services as ranking
from tests.ranking.factories import catalogue, log_random_traffic

ALL_SCOPES = ("rank", "events", "analytics:read")
PASSWORD = "pw-long-enough-123"  # noqa: S105 - test users only


def role_user(role: str | None, *, username: str | None = None):
    """A staff user in one role group (None: staff with no role)."""
    sync_role_permissions()
    user = get_user_model().objects.create_user(username or f"user-{role or 'none'}", password=PASSWORD,
                                                is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def role_users() -> dict:
    return {role: role_user(role) for role in (ANALYSTS, OPERATORS, ADMINS)}


def key_with(*scopes: str, name: str = "hardening bff") -> str:
    return api_key_create(name=name, scopes=list(scopes)).secret


def served_world(slug: str = "fuzz-banner", *, experiment: str | None = "fuzz-ab", model: bool = False):
    """A placement with 36 live variants, optionally a running experiment and a trained, active model."""
    placement, variants = catalogue(slug)
    version = None
    if model:
        log_random_traffic(placement, variants, users=400, seed=3)
        # An active model is this world's premise, not what is tested: past the gate on purpose.
        version = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True,
                                      by="served_world fixture").model_version
    if experiment:
        ranking.experiment_start(slug=experiment, placement=placement,
                                 buckets="control=0.34,random=0.33,model=0.33")
    return placement, variants, version
