from __future__ import annotations

from django.db import models
from django.utils import timezone

SCOPES = ("rank", "events", "analytics:read")


class APIKey(models.Model):
    """A credential for BFF services. Only a SHA-256 hash of the secret is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, help_text="First characters of the key, shown to identify it.")
    hashed_key = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="Any of: rank, events, analytics:read")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests a minute; empty uses the default."
    )
    placements = models.JSONField(
        default=list, blank=True,
        help_text="Placement slugs this key may rank and report events for; empty: every placement.",
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def allows_placement(self, slug: str) -> bool:
        """True when the key is not limited to placements, or `slug` is one of its placements."""
        return not self.placements or slug in self.placements
