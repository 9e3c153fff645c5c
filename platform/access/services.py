"""API key issuing, lookup and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from kaleido.two_level_cache import TwoLevelCache

from .models import SCOPES, APIKey

_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    secret: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str, scopes: list[str], expires_at: datetime | None = None,
                   rate_limit_per_minute: int | None = None, placements: list[str] | None = None) -> IssuedKey:
    """A new key; `placements` limits it to those placement slugs (None or empty: every placement)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}. Valid: {', '.join(SCOPES)}."})
    if not scopes:
        raise ValidationError({"scopes": "Give at least one scope."})
    if not name.strip():
        raise ValidationError({"name": "A key needs a name."})
    placements = sorted(set(placements or []))
    if placements:
        from creative.models import Placement

        missing = sorted(set(placements) - set(Placement.objects.filter(slug__in=placements)
                                                 .values_list("slug", flat=True)))
        if missing:
            raise ValidationError({"placements": f"Unknown placement(s): {', '.join(missing)}."})
    secret = "kal_" + secrets.token_urlsafe(32)
    api_key = APIKey.objects.create(
        name=name.strip(),
        prefix=secret[:12],
        hashed_key=hash_secret(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
        placements=placements,
    )
    return IssuedKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: APIKey) -> APIKey:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    forget_cached_key(api_key.hashed_key)
    return api_key


def forget_cached_key(hashed: str) -> None:
    """Drop a key from the shared cache and this process; other processes re-read within
    API_KEY_LOCAL_CACHE_S seconds."""
    _keys.invalidate(_cache_key(hashed))


def _cache_key(hashed: str) -> str:
    return f"apikey:{hashed}"


# Most rank calls need no round trip to authenticate: this process trusts its copy of a key for
# API_KEY_LOCAL_CACHE_S seconds, the shared cache keeps it for 30 s.
_keys: TwoLevelCache[APIKey] = TwoLevelCache("api keys", local_s=lambda: settings.API_KEY_LOCAL_CACHE_S,
                                             shared_s=30, max_local=1024)


def api_key_authenticate(secret: str) -> APIKey | None:
    """The active key for this secret, or None.

    Read from this process's memory for API_KEY_LOCAL_CACHE_S seconds, then from the shared cache
    (30 s), then from the database. Expiry is checked on every call; a revocation reaches this process
    at once and every other process within API_KEY_LOCAL_CACHE_S seconds.
    """
    hashed = hash_secret(secret)
    api_key = _keys.get_or_compute(_cache_key(hashed), lambda: APIKey.objects.filter(hashed_key=hashed).first())
    if api_key is None or not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        # Written at most once a minute per key and process so the hot path stays read-only.
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        _keys.share(_cache_key(hashed), api_key)
    return api_key
