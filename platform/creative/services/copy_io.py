"""Copy variants to and from CSV / XLSX for operators working in spreadsheets."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from openpyxl import Workbook, load_workbook

from ..models import CopyVariant, CreativeKit
from ..taxonomy import manual_tag_sources, validate_tags

COPY_COLUMNS = ["headline", "subline", "cta", "language"]
MAX_LENGTHS = {"headline": 120, "subline": 200, "cta": 40, "language": 10}


@dataclass(frozen=True)
class CopyImportResult:
    copies: list[CopyVariant]  # the new ones, saved
    unchanged: int

    @property
    def created(self) -> int:
        return len(self.copies)


def read_table(data: bytes, filename: str) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX file as dicts keyed by the header row."""
    if filename.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise ValidationError({"file": f"Not a readable XLSX file ({exc.__class__.__name__})."}) from exc
        rows = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": "CSV files must be UTF-8 encoded."}) from exc
        rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValidationError({"file": "The file is empty."})
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in rows[1:]]


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
    rows = [[c.kit.name, c.headline, c.subline, c.cta, c.language, *("|".join(c.tags.get(g, [])) for g in groups)]
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
