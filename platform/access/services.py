"""API key issuing, lookup and revocation."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
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
    _local_keys.pop(hashed, None)
    try:
        cache.delete(_cache_key(hashed))
    except Exception:  # noqa: S110 - the shared copy expires on its own within 30 s
        pass


def _cache_key(hashed: str) -> str:
    return f"apikey:{hashed}"


def forget_all_cached_keys() -> None:
    """Empty this process's copy of every key (what a freshly started process has)."""
    _local_keys.clear()


# hashed secret -> (re-read after, key): most rank calls then need no round trip to authenticate.
_local_keys: dict[str, tuple[float, APIKey]] = {}
_LOCAL_KEYS_MAX = 1024


def api_key_authenticate(secret: str) -> APIKey | None:
    """The active key for this secret, or None.

    Read from this process's memory for API_KEY_LOCAL_CACHE_S seconds, then from the shared cache
    (30 s), then from the database. Expiry is checked on every call; a revocation reaches this process
    at once and every other process within API_KEY_LOCAL_CACHE_S seconds.
    """
    hashed = hash_secret(secret)
    now_mono = time.monotonic()
    memo = _local_keys.get(hashed)
    if memo is not None and memo[0] > now_mono:
        api_key = memo[1]
    else:
        api_key = _shared_lookup(hashed)
        if api_key is None:
            return None
        if len(_local_keys) >= _LOCAL_KEYS_MAX:
            _local_keys.clear()
        _local_keys[hashed] = (now_mono + settings.API_KEY_LOCAL_CACHE_S, api_key)
    if not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        # Written at most once a minute per key and process so the hot path stays read-only.
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        _share(hashed, api_key)
    return api_key


def _shared_lookup(hashed: str) -> APIKey | None:
    key = _cache_key(hashed)
    try:
        api_key = cache.get(key)
    except Exception:  # a cache outage must not stop serving
        api_key = None
    if api_key is None:
        api_key = APIKey.objects.filter(hashed_key=hashed).first()
        if api_key is None:
            return None
        _share(hashed, api_key)
    return api_key


def _share(hashed: str, api_key: APIKey) -> None:
    try:
        cache.set(_cache_key(hashed), api_key, timeout=30)
    except Exception:  # noqa: S110 - the cache is an optimisation only
        pass
