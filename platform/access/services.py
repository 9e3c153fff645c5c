"""API key issuing, lookup and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import SCOPES, APIKey

_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    secret: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str, scopes: list[str], expires_at: datetime | None = None) -> IssuedKey:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}. Valid: {', '.join(SCOPES)}."})
    if not scopes:
        raise ValidationError({"scopes": "Give at least one scope."})
    if not name.strip():
        raise ValidationError({"name": "A key needs a name."})
    secret = "kal_" + secrets.token_urlsafe(32)
    api_key = APIKey.objects.create(
        name=name.strip(),
        prefix=secret[:12],
        hashed_key=hash_secret(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    return IssuedKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: APIKey) -> APIKey:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    cache.delete(_cache_key(api_key.hashed_key))
    return api_key


def _cache_key(hashed: str) -> str:
    return f"apikey:{hashed}"


def api_key_authenticate(secret: str) -> APIKey | None:
    """The active key for this secret, or None. Cached briefly so rank calls skip the query."""
    hashed = hash_secret(secret)
    key = _cache_key(hashed)
    try:
        api_key = cache.get(key)
    except Exception:  # a cache outage must not stop serving
        api_key = None
    if api_key is None:
        api_key = APIKey.objects.filter(hashed_key=hashed).first()
        if api_key is None:
            return None
        try:
            cache.set(key, api_key, timeout=30)
        except Exception:  # noqa: S110 - the cache is an optimisation only
            pass
    if not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        # Written at most once a minute per key so the hot path stays read-only.
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        try:
            cache.set(key, api_key, timeout=30)
        except Exception:  # noqa: S110
            pass
    return api_key
