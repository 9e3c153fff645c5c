from __future__ import annotations

from rest_framework.permissions import BasePermission

from .authentication import ApiKeyPrincipal


def scope_required(scope: str, *, staff_allowed: bool = False) -> type[BasePermission]:
    """Permission class: an API key holding `scope`, or (if allowed) a logged-in staff user."""

    class HasScope(BasePermission):
        message = f"This API key lacks the '{scope}' scope."

        def has_permission(self, request, view) -> bool:
            user = request.user
            if isinstance(user, ApiKeyPrincipal):
                return user.api_key.has_scope(scope)
            if staff_allowed and user is not None and getattr(user, "is_authenticated", False):
                return bool(user.is_staff)
            return False

    HasScope.__name__ = f"HasScope_{scope.replace(':', '_')}"
    return HasScope
