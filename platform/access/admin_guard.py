"""Roles in the admin: every action and every custom admin view names the permission it needs.

Django already hides an action from a user whose permissions its `allowed_permissions` do not cover,
but a POST of that action name then only says "No action selected"; and a view added through
`get_urls()` is guarded only by `admin_view` (any active staff user). `RoleAdmin` closes both:

- a POSTed action the user may not run changes nothing and answers with a message naming the action
  and the permission it needs (the change list opens again, as after any action);
- `guarded_view(view, permission)` wraps a custom view in `admin_view` plus a check of
  `has_<permission>_permission`, answering 403 without it, and records the permission on the view so a
  test can list every custom view with what it needs.

Permissions follow the roles (`access.roles`): analysts hold only `view_*`, operators everything in the
creative, generation and ranking apps (custom permissions such as `creative.publish_variant` and
`ranking.activate_model` included), admins everything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper

from django.contrib import admin, messages
from django.contrib.admin.utils import model_format_dict
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect


class RoleAdmin(admin.ModelAdmin):
    def refused_action(self, request: HttpRequest) -> tuple[str, tuple[str, ...]] | None:
        """(description, permissions) of the action POSTed when this user may not run it, else None."""
        if request.method != "POST" or "action" not in request.POST:
            return None
        names = request.POST.getlist("action")
        try:
            name = names[int(request.POST.get("index", 0))]
        except (IndexError, ValueError):
            return None
        every = {n: (func, description) for func, n, description in self._get_base_actions()}
        if name not in every or name in self.get_actions(request):
            return None
        func, description = every[name]
        return str(description) % model_format_dict(self.opts), tuple(getattr(func, "allowed_permissions", ()))

    def changelist_view(self, request, extra_context=None):
        refused = self.refused_action(request) if self.has_view_or_change_permission(request) else None
        if refused is not None:
            description, permissions = refused
            self.message_user(request, f"You do not have permission to run “{description}” (it needs the "
                                       f"{' and '.join(permissions) or 'unknown'} permission); nothing was changed.",
                              messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)

    def guarded_view(self, view: Callable, permission: str) -> Callable:
        """`view` for staff users holding has_<permission>_permission; 403 for everyone else."""
        check = getattr(self, f"has_{permission}_permission")

        def guarded(request, *args, **kwargs):
            if not check(request):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped = self.admin_site.admin_view(update_wrapper(guarded, view))
        wrapped.admin_permission = permission
        return wrapped
