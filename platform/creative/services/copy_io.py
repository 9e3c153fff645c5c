"""Copy variants to and from CSV / XLSX for operators working in spreadsheets."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from openpyxl import Workbook, load_workbook

from ..dynamic_copy import line_errors
from ..models import CopyVariant, CreativeKit
from ..taxonomy import manual_tag_sources, validate_tags

COPY_COLUMNS = ["headline", "subline", "cta", "language"]
MAX_LENGTHS = {"headline": 120, "subline": 200, "cta": 40, "language": 10}

# Imported tables (copy CSV/XLSX in the admin, import_variants): bounded before anything is parsed.
MAX_TABLE_BYTES = 20 * 1024 * 1024  # the file as uploaded
MAX_XLSX_UNPACKED_BYTES = 100 * 1024 * 1024  # an XLSX is a zip: what it unpacks to (zip bombs)
MAX_TABLE_ROWS = 50_000  # data rows after the header
MAX_TABLE_COLUMNS = 200

# A spreadsheet runs a cell that starts with one of these as a formula (CSV/formula injection):
# exported cells get a leading ' so they read as text, and imports take it off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A value as an exported cell: text a spreadsheet would run as a formula is prefixed with '."""
    if isinstance(value, str) and (value.startswith(_FORMULA_STARTS)
                                   or (value.startswith("'") and value[1:].startswith(("'", *_FORMULA_STARTS)))):
        return "'" + value
    return value


def _imported_cell(text: str) -> str:
    """The inverse of spreadsheet_cell, so an exported file imports back to the same values."""
    if text.startswith("'") and text[1:].startswith(("'", *_FORMULA_STARTS)):
        return text[1:]
    return text


@dataclass(frozen=True)
class CopyImportResult:
    copies: list[CopyVariant]  # the new ones, saved
    unchanged: int

    @property
    def created(self) -> int:
        return len(self.copies)


def read_table(data: bytes, filename: str) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX file as dicts keyed by the header row.

    Refused with a message, before parsing: a file over MAX_TABLE_BYTES, an XLSX unpacking to more than
    MAX_XLSX_UNPACKED_BYTES; while reading: more than MAX_TABLE_ROWS rows or MAX_TABLE_COLUMNS columns.
    """
    if len(data) > MAX_TABLE_BYTES:
        raise ValidationError({"file": f"The file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
                                       f"{MAX_TABLE_BYTES // 1024 // 1024} MB."})
    rows = _xlsx_rows(data) if filename.lower().endswith(".xlsx") else _csv_rows(data)
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValidationError({"file": "The file is empty."})
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (_imported_cell(c.strip()) for c in row), strict=False)) for row in rows[1:]]


def _too_many_rows() -> ValidationError:
    return ValidationError({"file": f"More than {MAX_TABLE_ROWS:,} rows; split the file."})


def _check_width(row: list[str] | tuple) -> None:
    if len(row) > MAX_TABLE_COLUMNS:
        raise ValidationError({"file": f"More than {MAX_TABLE_COLUMNS} columns."})


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": "CSV files must be UTF-8 encoded."}) from exc
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text)):
            _check_width(row)
            rows.append(row)
            if len(rows) > MAX_TABLE_ROWS + 1:
                raise _too_many_rows()
    except csv.Error as exc:
        raise ValidationError({"file": f"Not a readable CSV file ({exc})."}) from exc
    return rows


def _xlsx_rows(data: bytes) -> list[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationError({"file": "Not a readable XLSX file (not a zip archive)."}) from exc
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ValidationError({"file": f"The XLSX file unpacks to {unpacked // 1024 // 1024} MB; the limit is "
                                       f"{MAX_XLSX_UNPACKED_BYTES // 1024 // 1024} MB."})
    rows: list[list[str]] = []
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for row in book.active.iter_rows(values_only=True):
                _check_width(row)
                rows.append(["" if c is None else str(c) for c in row])
                if len(rows) > MAX_TABLE_ROWS + 1:
                    raise _too_many_rows()
        finally:
            book.close()
    except ValidationError:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ValidationError({"file": f"Not a readable XLSX file ({exc.__class__.__name__})."}) from exc
    return rows


@transaction.atomic
def copies_import(*, kit: CreativeKit, data: bytes, filename: str) -> CopyImportResult:
    """Add copy variants from a file; all rows are checked first and nothing is saved if one is bad."""
    rows = read_table(data, filename)
    errors: list[str] = []
    if rows and "headline" not in rows[0]:
        raise ValidationError({"file": "Missing required column 'headline'."})
    prepared: list[CopyVariant] = []
    existing = set(kit.copies.values_list("headline", "subline", "cta", "language"))
    unchanged = 0
    for line, row in enumerate(rows, start=2):
        values = {col: row.get(col, "") or "" for col in COPY_COLUMNS}
        values["language"] = values["language"] or "en"
        for col, limit in MAX_LENGTHS.items():
            if len(values[col]) > limit:
                errors.append(f"line {line}, column {col}: longer than {limit} characters")
        if not values["headline"]:
            errors.append(f"line {line}, column headline: required")
        if not values["cta"]:
            errors.append(f"line {line}, column cta: required")
        for col in ("headline", "subline", "cta"):
            errors.extend(f"line {line}, column {col}: {problem}" for problem in line_errors(values[col]))
        tags_raw = {k[4:]: v.split("|") for k, v in row.items() if k.startswith("tag:") and v}
        try:
            tags = validate_tags(tags_raw)
        except ValidationError as exc:
            errors.extend(f"line {line}, tags: {m}" for m in exc.messages)
            tags = {}
        key = (values["headline"], values["subline"], values["cta"], values["language"])
        if key in existing:
            unchanged += 1
            continue
        existing.add(key)
        prepared.append(CopyVariant(kit=kit, tags=tags,
                                    tag_sources=manual_tag_sources(tags),
                                    **values))
    if errors:
        raise ValidationError({"file": errors})
    return CopyImportResult(copies=CopyVariant.objects.bulk_create(prepared), unchanged=unchanged)


def _tag_groups(copies) -> list[str]:
    return sorted({g for c in copies for g in c.tags})


def copies_export(*, copies, fmt: str = "csv") -> bytes:
    copies = list(copies)
    groups = _tag_groups(copies)
    header = ["kit", *COPY_COLUMNS, *(f"tag:{g}" for g in groups)]
    rows = [[spreadsheet_cell(cell) for cell in
             (c.kit.name, c.headline, c.subline, c.cta, c.language, *("|".join(c.tags.get(g, [])) for g in groups))]
            for c in copies]
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
