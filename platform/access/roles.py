"""Roles are Django groups: operators, analysts, admins. Permissions are synced after every migrate."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

OPERATORS, ANALYSTS, ADMINS = "operators", "analysts", "admins"
ROLES = (OPERATORS, ANALYSTS, ADMINS)

# app label -> what operators may do there; analysts only ever view.
_OPERATOR_APPS = {"creative": "all", "generation": "all", "ranking": "all", "analytics": "view"}
_ANALYST_APPS = ("creative", "generation", "ranking", "analytics")


def sync_role_permissions(**kwargs) -> None:
    """Give each role group its permissions; runs on post_migrate, when all permissions exist."""
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    operator_perms = []
    for app, level in _OPERATOR_APPS.items():
        perms = Permission.objects.filter(content_type__app_label=app)
        operator_perms += list(perms if level == "all" else perms.filter(codename__startswith="view_"))
    groups[OPERATORS].permissions.set(operator_perms)
    groups[ANALYSTS].permissions.set(
        Permission.objects.filter(content_type__app_label__in=_ANALYST_APPS, codename__startswith="view_"))
    groups[ADMINS].permissions.set(Permission.objects.all())


def user_roles(user) -> set[str]:
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_kaleido_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._kaleido_roles = cached
    return cached


def can_read_reports(user) -> bool:
    return bool(user_roles(user) & {ANALYSTS, OPERATORS, ADMINS})


def can_operate(user) -> bool:
    return bool(user_roles(user) & {OPERATORS, ADMINS})
