"""The demo's analytics step prints the experiment report and the attribution findings."""

from __future__ import annotations

import io

import pytest

from analytics import demo
from creative.demo_context import DemoContext
from tests.analytics.factories import log_traffic
from tests.factories import ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def test_the_demo_step_prints_the_report_and_findings_for_each_experiment():
    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(slug="home-banner-ab", placement=placement,
                                   buckets={"control": 0.34, "random": 0.33, "model": 0.33})
    log_traffic(placement=placement, experiment=experiment, users={"control": 60, "random": 60, "model": 60},
                ctr={"control": 0.05, "random": 0.05, "model": 0.1})
    out = io.StringIO()

    demo.run(DemoContext(stdout=out, extras={"experiments": {"home-banner": "home-banner-ab"}}))

    text = out.getvalue()
    assert "Experiment home-banner-ab on home-banner" in text
    assert "SRM p =" in text
    assert "segment preference(s) on random-bucket data" in text
    assert "/identifiability" in text


def test_without_experiments_the_step_says_so():
    out = io.StringIO()
    demo.run(DemoContext(stdout=out))
    assert "no experiment ran" in out.getvalue()


def test_demo_refuses_too_few_users_to_train_on(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--users must be at least 500"):
        call_command("demo", "--users", "100")


def test_the_demo_prints_findings_as_sentences_and_names_tags_that_cannot_be_told_apart():
    from tests.analytics import planted_world as pw
    from tests.factories import LayoutTemplateFactory, StyleVariantFactory

    placement = PlacementFactory(slug="wealth-card")
    layouts = [LayoutTemplateFactory(kit__placement=placement, tags={"layout": ["stack"], "button_color": ["green"]}),
               LayoutTemplateFactory(kit__placement=placement, tags={"layout": ["grid"], "button_color": ["blue"]})]
    for layout in layouts:
        StyleVariantFactory(placement=placement, layout=layout, tags=layout.tags)
    world = pw.make_world(4)
    world.planted[:] = [pw.Planted("age", "lt", 30, "button_color", "blue", 1.2)]
    frame = pw.impression_frame(world, impressions=30_000, seed=4)

    lines = demo.findings_lines(placement, frame=frame)

    young_blue = [line for line in lines if "click variants with button_color = blue" in line and "Ages 18–24" in line]
    assert young_blue and "× more than other users do" in young_blue[0]
    assert not [line for line in lines if "ctr" in line.lower() and "%" in line]
    assert any("button_color=green and layout=stack are always shown together" in line
               and "Add a layout with button_color = green and layout = grid" in line for line in lines)
