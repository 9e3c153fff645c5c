"""Reads other apps make of creative's data: one way to find a placement by its slug.

Commands, APIs, services and serving all name placements by slug; they find them here, so an unknown
slug reads the same everywhere ("Unknown placement 'x'.") and each caller only decides how to answer
it: a CommandError, a 404 in the API error shape (kaleido.api_errors maps UnknownPlacement), a
validation error, or serving's own UnknownPlacement.
"""

from __future__ import annotations

from .models import Placement


class UnknownPlacement(Placement.DoesNotExist):
    """No placement has this slug. A Placement.DoesNotExist, so handlers written for the ORM's error
    still catch it; its message names the slug."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"Unknown placement '{slug}'.")


def placement_by_slug_or_none(slug: str) -> Placement | None:
    """The placement with this slug, or None."""
    return Placement.objects.filter(slug=slug).first()


def placement_by_slug(slug: str) -> Placement:
    """The placement with this slug; raises UnknownPlacement when there is none."""
    placement = placement_by_slug_or_none(slug)
    if placement is None:
        raise UnknownPlacement(slug)
    return placement
