"""`manage.py attribution_report` prints the pooled findings as sentences and names tags it cannot tell apart."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.analytics.factories import log_simulated_random_bucket
from tests.factories import CopyVariantFactory, CreativeKitFactory, LayoutTemplateFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db


def test_the_command_prints_sentences_and_the_catalogue_notes():
    kit = CreativeKitFactory(placement__slug="home-banner")
    copies = [CopyVariantFactory(kit=kit, tags={"appeal": [a]}) for a in ("plain", "benefit")]
    layouts = [LayoutTemplateFactory(kit=kit, tags={"layout": ["grid"], "button_color": ["blue"]}),
               LayoutTemplateFactory(kit=kit, tags={"layout": ["list"], "button_color": ["gold"]})]
    variants = [StyleVariantFactory(placement=kit.placement, kit=kit, copy=c, layout=lay, tags={**c.tags, **lay.tags})
                for c in copies for lay in layouts]
    log_simulated_random_bucket(placement=kit.placement, variants=variants, users=3_000, seed=3)
    out = io.StringIO()

    call_command("attribution_report", "home-banner", stdout=out)

    text = out.getvalue()
    assert "finding(s) for home-banner (segments whose preference differs from everyone else's" in text
    assert "button_color=blue and layout=grid are always shown together (2 live variants)" in text
    assert "Add a layout with button_color = blue and layout = list" in text
    for line in text.splitlines():
        if line.startswith("  • "):
            assert "than other users do" in line or "as much as other users do" in line
    with pytest.raises(CommandError, match="Unknown placement"):
        call_command("attribution_report", "nope")
