"""Throttled admin login: a few failed passwords per client address and username, then a pause.

Failures are counted in the shared cache (Redis on the full stack; process memory on the embedded
default, where there is one process) for ADMIN_LOGIN_WINDOW_S from the first failure:
ADMIN_LOGIN_MAX_FAILURES per address and username, ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS per address
over all usernames (password spraying). Past either, the login form answers 429 with an error and
the password is not even checked, so guessing costs the attacker the whole window. A successful login
clears its address-and-username count. The address is REMOTE_ADDR: behind a proxy every client shares
the proxy's address, so the per-username limit still holds and the per-address one becomes global.
A cache outage lets logins through unthrottled rather than locking everyone out.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)
THROTTLED = "throttled"


def _keys(address: str, username: str) -> tuple[str, str]:
    pair = hashlib.sha256(f"{address}|{username.casefold()}".encode()).hexdigest()[:32]
    return f"admin-login:pair:{pair}", f"admin-login:addr:{hashlib.sha256(address.encode()).hexdigest()[:32]}"


def login_blocked(*, address: str, username: str) -> bool:
    pair_key, address_key = _keys(address, username)
    try:
        counts = cache.get_many([pair_key, address_key])
    except Exception:  # a cache outage: let the password decide
        log.warning("admin login throttle: cache unavailable, not throttling", exc_info=True)
        return False
    return (counts.get(pair_key, 0) >= settings.ADMIN_LOGIN_MAX_FAILURES
            or counts.get(address_key, 0) >= settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS)


def login_failed(*, address: str, username: str) -> None:
    for key in _keys(address, username):
        try:
            cache.add(key, 0, timeout=settings.ADMIN_LOGIN_WINDOW_S)
            cache.incr(key)
        except ValueError:  # expired between add and incr: start again
            cache.add(key, 1, timeout=settings.ADMIN_LOGIN_WINDOW_S)
        except Exception:  # noqa: S112 - a cache outage: nothing to count in
            log.warning("admin login throttle: cache unavailable, failure not counted", exc_info=True)
            continue


def login_succeeded(*, address: str, username: str) -> None:
    try:
        cache.delete(_keys(address, username)[0])
    except Exception:  # noqa: S110 - the count expires on its own
        pass


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, refusing without checking the password once a client is throttled."""

    def clean(self):
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        username = str(self.cleaned_data.get("username") or "")
        if login_blocked(address=address, username=username):
            minutes = max(1, settings.ADMIN_LOGIN_WINDOW_S // 60)
            raise ValidationError(f"Too many failed logins. Try again in {minutes} minutes.", code=THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError:
            login_failed(address=address, username=username)
            raise
        login_succeeded(address=address, username=username)
        return cleaned


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin login view, answering 429 (with the form and its error) while a client is throttled."""
    response = admin.site.login(request)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if form is not None and form.is_bound and any(
            error.code == THROTTLED for error in form.errors.as_data().get("__all__", [])):
        response.status_code = 429
        response["Retry-After"] = str(settings.ADMIN_LOGIN_WINDOW_S)
    return response
