"""Operators move copy in and out of spreadsheets."""

import csv
import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook, load_workbook

from creative.services import copy_io
from creative.services.copy_io import copies_export, copies_import
from tests.factories import CopyVariantFactory, CreativeKitFactory

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


def test_exports_neutralise_formulas_and_import_back_to_the_same_copy():
    kit = CreativeKitFactory()
    hostile = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-50% today", "@SUM(A1)", "\tTab", "'=quoted"]
    for headline in hostile:
        CopyVariantFactory(kit=kit, headline=headline, cta="Go")
    CopyVariantFactory(kit=kit, headline="Plain words", cta="=cmd|' /C calc'!A0")

    text = copies_export(copies=kit.copies.all(), fmt="csv").decode()
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "'-50% today" in cells
    assert "''=quoted" in cells

    sheet = load_workbook(io.BytesIO(copies_export(copies=kit.copies.all(), fmt="xlsx"))).active
    xlsx_cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in xlsx_cells)  # nothing is stored as a formula
    assert "'+1+1" in {cell.value for cell in xlsx_cells}

    other = CreativeKitFactory()
    copies_import(kit=other, data=text.encode(), filename="copies.csv")
    assert sorted(other.copies.values_list("headline", flat=True)) == sorted([*hostile, "Plain words"])
    assert other.copies.get(headline="Plain words").cta == "=cmd|' /C calc'!A0"


def _xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_table_imports_are_capped_in_rows_bytes_and_unpacked_size(monkeypatch):
    kit = CreativeKitFactory()
    monkeypatch.setattr(copy_io, "MAX_TABLE_ROWS", 3)
    rows = [["headline", "cta"], *([f"Copy {i}", "Go"] for i in range(4))]
    for data, name in [(_xlsx(rows), "copies.xlsx"),
                       ("\n".join(",".join(r) for r in rows).encode(), "copies.csv")]:
        with pytest.raises(ValidationError, match="More than 3 rows"):
            copies_import(kit=kit, data=data, filename=name)
    assert copies_import(kit=kit, data=_xlsx(rows[:4]), filename="copies.xlsx").created == 3

    monkeypatch.setattr(copy_io, "MAX_TABLE_BYTES", 1000)
    with pytest.raises(ValidationError, match="the limit is"):
        copies_import(kit=kit, data=b"headline,cta\n" + b"x,y\n" * 300, filename="copies.csv")

    monkeypatch.setattr(copy_io, "MAX_TABLE_BYTES", 20 * 1024 * 1024)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (101 * 1024 * 1024))
    assert len(bomb.getvalue()) < 1024 * 1024  # small on the wire
    with pytest.raises(ValidationError, match="unpacks to 101 MB"):
        copies_import(kit=kit, data=bomb.getvalue(), filename="copies.xlsx")
    with pytest.raises(ValidationError, match="not a zip archive"):
        copies_import(kit=kit, data=b"headline\nnot a zip", filename="copies.xlsx")
    assert kit.copies.count() == 3
