from django.contrib import admin, messages

from .admin_guard import RoleAdmin
from .models import APIKey
from .services import api_key_create, api_key_revoke, forget_cached_key


@admin.register(APIKey)
class APIKeyAdmin(RoleAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "hashed_key", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "scopes", "placements", "expires_at", "rate_limit_per_minute") + readonly_fields
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            forget_cached_key(obj.hashed_key)  # new scopes, expiry or limit apply at once
            return
        issued = api_key_create(name=obj.name, scopes=list(obj.scopes or []), expires_at=obj.expires_at,
                                rate_limit_per_minute=obj.rate_limit_per_minute, placements=list(obj.placements or []))
        obj.pk = issued.api_key.pk
        obj.prefix, obj.hashed_key = issued.api_key.prefix, issued.api_key.hashed_key
        messages.warning(request, f"New key (copy it now, it is shown only once): {issued.secret}")

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
