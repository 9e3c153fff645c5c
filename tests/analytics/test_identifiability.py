"""An analyst asks which tag effects the live catalogue can tell apart, and what to add when it cannot."""

from __future__ import annotations

import itertools

import pytest

from analytics.identifiability import identifiability_of
from tests.factories import CopyVariantFactory, CreativeKitFactory, LayoutTemplateFactory, StyleVariantFactory
from tests.openapi_checks import served_schema, violations


def _compose(kit, copies, layouts):
    for copy, layout in itertools.product(copies, layouts):
        StyleVariantFactory(placement=kit.placement, kit=kit, copy=copy, layout=layout,
                            tags={**copy.tags, **layout.tags})


@pytest.mark.django_db
def test_a_layout_that_carries_both_tags_aliases_them_and_the_answer_names_the_layout_to_add(api_client_with):
    kit = CreativeKitFactory(placement__slug="wealth-card")
    copies = [CopyVariantFactory(kit=kit, tags={"appeal": [a]}) for a in ("benefit", "plain")]
    layouts = [LayoutTemplateFactory(kit=kit, tags={"layout": ["list"], "button_color": ["green"]}),
               LayoutTemplateFactory(kit=kit, tags={"layout": ["grid"], "button_color": ["blue"]})]
    _compose(kit, copies, layouts)
    client = api_client_with("analytics:read")

    body = client.get("/api/v1/placements/wealth-card/identifiability").json()

    assert body["live_variants"] == 4 and body["identifiable"] is False
    assert sorted(a["tags"] for a in body["aliases"]) == [["button_color=blue", "layout=grid"],
                                                          ["button_color=green", "layout=list"]]
    green = next(a for a in body["aliases"] if "button_color=green" in a["tags"])
    assert green["materials"] == {"button_color=green": ["layout"], "layout=list": ["layout"]}
    assert green["separate_with"] == ["add a layout with button_color = green and layout = grid"]
    appeal = [t for t in body["tags"] if t["group"] == "appeal"]
    assert appeal and all(t["identifiable"] for t in appeal)
    assert not next(t for t in body["tags"] if t["value"] == "green")["identifiable"]
    assert any("always shown together" in note for note in body["notes"])

    # The suggested layout separates them: every effect can now be told apart.
    _compose(kit, copies, [LayoutTemplateFactory(kit=kit, tags={"layout": ["grid"], "button_color": ["green"]})])
    body = client.get("/api/v1/placements/wealth-card/identifiability").json()
    assert body["aliases"] == [] and body["identifiable"] is True and body["rank"] == body["parameters"]

    assert client.get("/api/v1/placements/nope/identifiability").status_code == 404
    assert violations(served_schema(), "/api/v1/placements/{slug}/identifiability", body) == []


def test_a_full_cross_product_is_identifiable_and_a_constant_tag_is_named():
    variants = [{"button_color": [b], "layout": [lay], "font": ["serif"]}
                for b in ("red", "blue") for lay in ("list", "grid", "single")]

    answer = identifiability_of(variants)

    assert answer["aliases"] == [] and answer["other_dependencies"] == 0
    assert answer["rank"] == answer["parameters"] == 1 + 1 + 2
    assert answer["on_every_variant"] == ["font=serif"]


def test_a_dependency_beyond_pairs_is_counted():
    # layout=grid appears exactly when blue or gold does (grid = blue + gold) and red exactly with list or
    # single: no two tags are on the same variants, yet one effect is not identifiable.
    variants = [{"button_color": ["red"], "layout": ["list"]}, {"button_color": ["red"], "layout": ["single"]},
                {"button_color": ["blue"], "layout": ["grid"]}, {"button_color": ["gold"], "layout": ["grid"]}]

    answer = identifiability_of(variants)

    assert answer["aliases"] == []
    assert answer["other_dependencies"] == 1 and answer["identifiable"] is False
    assert any("further linear dependency" in note for note in answer["notes"])


def test_two_materials_only_ever_combined_one_way_ask_for_the_missing_combination():
    variants = [{"appeal": ["plain"], "layout": ["list"]}, {"appeal": ["benefit"], "layout": ["grid"]}]
    carriers = [{"appeal=plain": ["copy"], "layout=list": ["layout"]},
                {"appeal=benefit": ["copy"], "layout=grid": ["layout"]}]

    answer = identifiability_of(variants, carriers)

    benefit = next(a for a in answer["aliases"] if "appeal=benefit" in a["tags"])
    assert benefit["separate_with"] == ["make live a variant that combines a copy with appeal = benefit "
                                        "and a layout with layout = list"]
