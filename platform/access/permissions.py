from __future__ import annotations

from rest_framework.permissions import BasePermission

from .authentication import ApiKeyPrincipal
from .roles import can_operate, can_read_reports


def scope_required(scope: str, *, staff_allowed: bool = False) -> type[BasePermission]:
    """An API key holding `scope`; or, if allowed, a logged-in user whose role covers it.

    Session users: `analytics:read` needs the analysts, operators or admins role; any other scope
    needs operators or admins.
    """

    class HasScope(BasePermission):
        message = f"This API key lacks the '{scope}' scope."

        def has_permission(self, request, view) -> bool:
            user = request.user
            if isinstance(user, ApiKeyPrincipal):
                return user.api_key.has_scope(scope)
            if staff_allowed and user is not None and getattr(user, "is_authenticated", False):
                self.message = "Your role does not allow this."
                return can_read_reports(user) if scope == "analytics:read" else can_operate(user)
            return False

    HasScope.scope = scope  # read by access.throttling: report reads have their own rate limit
    HasScope.__name__ = f"HasScope_{scope.replace(':', '_')}"
    return HasScope
