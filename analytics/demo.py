"""The analytics step of `manage.py demo`."""

from __future__ import annotations

from creative.demo_context import DemoContext


def run(ctx: DemoContext) -> None:
    """Filled in as the analytics area lands; the demo runs the steps in order."""
