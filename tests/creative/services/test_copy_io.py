"""Operators move copy in and out of spreadsheets."""

import io

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook, load_workbook

from creative.services.copy_io import copies_export, copies_import
from tests.factories import CreativeKitFactory

pytestmark = pytest.mark.django_db


def test_csv_import_then_xlsx_export_round_trip():
    kit = CreativeKitFactory()
    data = "headline,subline,cta,language,tag:appeal\nSave 4.5%,No fees,Start,en,benefit\n限时加息,三天,领取,zh,urgency\n"
    result = copies_import(kit=kit, data=data.encode(), filename="copies.csv")
    assert result.created == 2
    assert kit.copies.get(language="zh").tags == {"appeal": ["urgency"]}
    sheet = load_workbook(io.BytesIO(copies_export(copies=kit.copies.all(), fmt="xlsx"))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("kit", "headline", "subline", "cta", "language")
    assert {r[1] for r in rows[1:]} == {"Save 4.5%", "限时加息"}
    assert copies_import(kit=kit, data=data.encode(), filename="copies.csv").created == 0


def test_xlsx_import_with_a_bad_row_imports_nothing():
    kit = CreativeKitFactory()
    book = Workbook()
    book.active.append(["headline", "cta"])
    book.active.append(["Good", "Go"])
    book.active.append(["x" * 121, ""])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(ValidationError) as excinfo:
        copies_import(kit=kit, data=buffer.getvalue(), filename="copies.xlsx")
    assert "line 3, column headline: longer than 120 characters" in excinfo.value.messages
    assert "line 3, column cta: required" in excinfo.value.messages
    assert kit.copies.count() == 0
