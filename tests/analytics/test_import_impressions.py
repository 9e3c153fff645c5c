"""An operator imports last quarter's impressions; they read exactly like live traffic."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from analytics.models import Event
from ranking.models import Decision
from tests.factories import PlacementFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db

HEADER = "user_id,variant_key,clicked,converted,bucket,propensity,ts,feature:age,feature:has_card\n"


@pytest.fixture
def placement():
    placement = PlacementFactory(slug="home-banner")
    StyleVariantFactory(placement=placement, variant_key="blue-grid")
    StyleVariantFactory(placement=placement, variant_key="red-list")
    return placement


def test_rows_become_decisions_and_events_like_live_traffic(placement, tmp_path, capsys):
    csv_file = tmp_path / "history.csv"
    csv_file.write_text(HEADER + "u-1,blue-grid,1,1,random,0.5,2026-10-01T10:00:00Z,34,true\n"
                                 "u-2,red-list,0,,control,,2026-10-02T10:00:00Z,61,false\n")

    call_command("import_impressions", str(csv_file), "--placement", "home-banner")
    call_command("import_impressions", str(csv_file), "--placement", "home-banner")  # a second run changes nothing

    assert Decision.objects.count() == 2
    first = Decision.objects.get(user_id="u-1")
    assert first.features == {"age": 34, "has_card": True}
    assert first.bucket == "random" and first.items[0]["propensity"] == 0.5
    assert sorted(Event.objects.values_list("type", flat=True)) == ["click", "conversion", "impression",
                                                                   "impression"]
    click = Event.objects.get(type="click")
    assert (click.bucket, click.propensity, click.ts.day) == ("random", 0.5, 1)
    assert "Imported 2 impressions (1 clicks, 1 conversions)" in capsys.readouterr().out


def test_a_bad_row_imports_nothing_and_names_line_and_column(placement, tmp_path):
    csv_file = tmp_path / "history.csv"
    csv_file.write_text(HEADER + "u-1,blue-grid,1,0,random,0.5,2026-10-01T10:00:00Z,34,true\n"
                                 "u-2,green-card,2,,control,,2026-10-02T10:00:00Z,61,false\n")

    with pytest.raises(CommandError) as failure:
        call_command("import_impressions", str(csv_file), "--placement", "home-banner")

    assert "nothing was imported" in str(failure.value)
    assert Decision.objects.count() == 0 and Event.objects.count() == 0


def test_errors_name_the_line_and_column():
    from io import StringIO

    from analytics.imports import ImportFailed, import_impressions

    placement = PlacementFactory(slug="p")
    StyleVariantFactory(placement=placement, variant_key="a")
    with pytest.raises(ImportFailed) as failure:
        import_impressions(placement=placement, file=StringIO(HEADER + "u-1,zzz,yes,,sideways,2,never,3,x\n"))
    errors = "\n".join(failure.value.errors)
    for expected in ("line 2, column variant_key", "line 2, column clicked", "line 2, column bucket",
                     "line 2, column propensity", "line 2, column ts"):
        assert expected in errors
