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


OLD_LOG = ("user_id,variant_key,clicked,bucket,propensity,ts,feature:age\n"
           "u-1,blue-grid,1,random,0.5,2019-11-24T10:00:00Z,34\n"
           "u-2,red-list,0,random,0.5,2019-11-25T09:00:00Z,61\n")


def test_rows_older_than_the_retention_window_are_refused_without_historical(placement, tmp_path):
    csv_file = tmp_path / "obd-2019.csv"
    csv_file.write_text(OLD_LOG)

    with pytest.raises(CommandError):
        call_command("import_impressions", str(csv_file), "--placement", "home-banner")

    assert Decision.objects.count() == 0 and Event.objects.count() == 0


def test_errors_for_old_rows_name_the_line_and_the_option(placement):
    from io import StringIO

    from analytics.imports import ImportFailed, import_impressions

    with pytest.raises(ImportFailed) as failure:
        import_impressions(placement=placement, file=StringIO(OLD_LOG))
    assert failure.value.errors[0].startswith("line 2, column ts: older than the 400-day event retention window")
    assert "--historical" in failure.value.errors[0] and len(failure.value.errors) == 2


def test_historical_rows_are_kept_by_retention_until_the_operator_prunes_them(placement, tmp_path, capsys):
    from analytics.models import DailyRollup, EventKey
    from analytics.rollups import apply_retention, refresh_rollups

    csv_file = tmp_path / "obd-2019.csv"
    csv_file.write_text(OLD_LOG)
    call_command("import_impressions", str(csv_file), "--placement", "home-banner", "--historical")
    assert "Imported 2 impressions (1 clicks, 0 conversions) into home-banner as imported history" \
        in capsys.readouterr().out
    assert Decision.objects.filter(historical=True).count() == 2
    assert Event.objects.filter(historical=True).count() == 3 and EventKey.objects.filter(historical=True).count() == 3
    refresh_rollups()
    assert DailyRollup.objects.filter(placement=placement, day__year=2019).exists()

    # Live traffic of the same days, however it got in, is what retention deletes.
    live = Event.objects.get(type="click")
    Event.objects.create(event_id="live-old", type="impression", variant_id=live.variant_id, user_id="u-9",
                         placement=placement, ts=live.ts)
    EventKey.objects.create(event_id="live-old", ts=live.ts)
    apply_retention()
    assert not Event.objects.filter(event_id="live-old").exists()
    assert not EventKey.objects.filter(event_id="live-old").exists()
    assert Event.objects.count() == 3 and Decision.objects.count() == 2

    call_command("import_impressions", str(csv_file), "--placement", "home-banner", "--historical")
    assert Event.objects.count() == 3  # a second import stores nothing twice: the keys were kept

    call_command("prune_history", "--placement", "home-banner", "--before", "2019-11-25")
    assert "1 decisions, 2 events, 2 keys" in capsys.readouterr().out
    call_command("prune_history", "--placement", "home-banner")
    assert Event.objects.count() == 0 and Decision.objects.count() == 0 and EventKey.objects.count() == 0
    refresh_rollups()
    assert not DailyRollup.objects.filter(placement=placement, day__year=2019).exists()
