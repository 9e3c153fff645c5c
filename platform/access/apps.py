from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles_after_last_app(app_config, **kwargs) -> None:
    # post_migrate fires once per app, in INSTALLED_APPS order; only after the last one do all
    # permissions exist, so the roles are synced then.
    if app_config is list(apps.get_app_configs())[-1]:
        from .roles import sync_role_permissions

        sync_role_permissions()


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access: API keys and roles"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles_after_last_app, dispatch_uid="kaleido-sync-roles")
