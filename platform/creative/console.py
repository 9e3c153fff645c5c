"""The operators' console as a whole: its name, its navigation in the order of the work, and two helpers
every console form and action uses so a mistake is a message on the page, never a 500.

- `dry_run_errors(call)` runs a service inside a transaction that is always rolled back and returns the
  ValidationError it raised (or None). Forms call the same service that saving calls, so they refuse
  exactly what the service refuses, with the service's own words, before anything is saved.
- `form_add_errors(form, exc, fields)` puts such an error on the form: on the field it names when the
  form has that field (or the one `fields` maps it to), else at the top of the form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

# Sections of the index page and the side navigation, in the order an operator works; model labels.
WORKFLOW: list[tuple[str, list[str]]] = [
    ("1 · Placements and taxonomy", ["creative.placement", "creative.taggroup"]),
    ("2 · Creative kits and materials", ["creative.creativekit", "creative.copyvariant", "creative.imagematerial",
                                         "creative.layouttemplate"]),
    ("3 · Image generation", ["generation.generationjob", "generation.basemodel", "generation.lorastyle"]),
    ("4 · Variants and review", ["creative.stylevariant", "creative.variantauditentry"]),
    ("5 · Experiments and models", ["ranking.experiment", "ranking.modelversion", "ranking.decision"]),
]


def workflow_app_list(app_list: list[dict]) -> list[dict]:
    """Django's app list regrouped into the WORKFLOW sections; other apps follow as they were."""
    models = {f"{app['app_label']}.{m['object_name'].lower()}": (app, m) for app in app_list for m in app["models"]}
    placed: set[str] = set()
    sections = []
    for title, labels in WORKFLOW:
        found = [models[label] for label in labels if label in models]
        if not found:
            continue
        placed.update(label for label in labels if label in models)
        first_app = found[0][0]
        sections.append({**first_app, "name": title, "models": [m for _, m in found]})
    rest = []
    for app in app_list:
        left = [m for m in app["models"] if f"{app['app_label']}.{m['object_name'].lower()}" not in placed]
        if left:
            rest.append({**app, "models": left})
    return sections + rest


def install(site: admin.AdminSite) -> None:
    """Name the site Kaleido, send "View site" to the dashboard, order the navigation by the work."""
    site.site_header = "Kaleido"
    site.site_title = "Kaleido"
    site.index_title = "Operator console: placements → taxonomy → kits → generation → variants → experiments"
    site.site_url = "/dashboard/"
    default = site.get_app_list

    def get_app_list(request, app_label=None):
        app_list = default(request, app_label)
        return app_list if app_label else workflow_app_list(app_list)

    site.get_app_list = get_app_list


class _RolledBack(Exception):
    pass


def dry_run_errors(call: Callable[[], object]) -> ValidationError | None:
    """The ValidationError `call()` raises, or None; whatever it wrote is rolled back either way."""
    try:
        with transaction.atomic():
            call()
            raise _RolledBack
    except _RolledBack:
        return None
    except ValidationError as exc:
        return exc


def form_add_errors(form, exc: ValidationError, fields: Mapping[str, str] | None = None) -> None:
    """Each of the error's messages on the form field it names (mapped through `fields`), else on the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, messages in exc.message_dict.items():
        target = (fields or {}).get(name, name)
        form.add_error(target if target in form.fields else None,
                       messages if target in form.fields else [f"{name}: {m}" for m in messages])
