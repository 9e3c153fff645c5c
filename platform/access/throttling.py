"""Per-API-key rate limits (DRF throttling backed by the cache): 429 with Retry-After."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .authentication import ApiKeyPrincipal


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests a minute per key: the key's own limit, or API_KEY_RATE_LIMIT_PER_MINUTE."""

    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_KEY_RATE_LIMIT_PER_MINUTE}/min"

    def allow_request(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, ApiKeyPrincipal):
            return True  # staff sessions are not rate limited here
        per_minute = user.api_key.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
        self.num_requests, self.duration = per_minute, 60
        try:
            return super().allow_request(request, view)
        except Exception:  # a cache outage must not take serving down with it
            return True

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.api_key.prefix}
