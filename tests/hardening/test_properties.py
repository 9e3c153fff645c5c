"""Property-based checks on the inputs that come from outside: rank's feature maps, tag strings, CSV files.

Whatever arrives, the answer is either a success or a clear validation error; never another exception.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from creative.models import CopyVariant, StyleVariant
from creative.services.copy_io import copies_import
from creative.services.variant_import import variants_import
from creative.taxonomy import DEFAULT_TAXONOMY, normalize_tags, validate_tags
from tests.factories import CreativeKitFactory, PlacementFactory, StyleVariantFactory

from .factories import key_with

pytestmark = pytest.mark.django_db

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Anything JSON can carry, nested, including keys and strings that are long or odd.
json_scalars = st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=300)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=70), inner, max_size=4), max_leaves=12)
feature_maps = st.dictionaries(st.text(max_size=70), json_values, max_size=8) | json_values

KNOWN_GROUPS = [group for _, group, _, _, _ in DEFAULT_TAXONOMY]
KNOWN_VALUES = sorted({value for *_, values in DEFAULT_TAXONOMY for value in values})
tag_text = st.sampled_from(KNOWN_GROUPS + KNOWN_VALUES) | st.text(max_size=20)


@pytest.fixture
def rank_world(db):
    placement = PlacementFactory(slug="prop-banner")
    placement.control_variant = StyleVariantFactory(placement=placement, tags={"button_color": ["red"]})
    placement.save()
    StyleVariantFactory(placement=placement, tags={"button_color": ["blue"]})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_with('rank')}")
    return client


def _readable_400(response) -> None:
    """A message for the whole request, and per-field messages unless the body was not even JSON."""
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("errors"), dict) or "JSON parse error" in body["detail"], body


@FAST
@given(features=feature_maps, context=feature_maps, k=json_values)
@example(features={"age": float("1e308") * 10}, context={}, k=1)  # inf: no JSON, sent as a raw token below
@example(features={"": "x", "a" * 65: 1}, context={}, k=1)
@example(features={"nested": {"deep": [1, {"x": None}]}}, context=[], k="3")
def test_rank_answers_200_or_a_400_with_field_messages_for_any_feature_map(rank_world, features, context, k):
    body = {"placement": "prop-banner", "user": {"id": "u-1", "features": features}, "k": k, "context": context}
    raw = json.dumps(body, allow_nan=True)  # NaN/Infinity as bare tokens, as a sloppy client would send
    response = rank_world.post("/api/v1/rank", raw, content_type="application/json")
    assert response.status_code in (200, 400), (body, response.status_code, response.content[:500])
    if response.status_code == 400:
        _readable_400(response)
    else:
        assert response.json()["items"][0]["variant_id"]


@FAST
@given(body=json_values)
def test_rank_answers_400_for_any_malformed_body(rank_world, body):
    response = rank_world.post("/api/v1/rank", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, (body, response.content[:300])
    assert response.json()["detail"]


@settings(max_examples=200, deadline=None, database=None)
@given(tags=st.dictionaries(tag_text, st.lists(tag_text, max_size=5) | tag_text, max_size=6))
def test_normalize_tags_is_sorted_unique_and_idempotent(tags):
    once = normalize_tags(tags)
    assert normalize_tags(once) == once
    for group, values in once.items():
        assert group == group.strip() and values == sorted(set(values)) and all(v == v.strip() and v for v in values)


@FAST
@given(tags=json_values | st.dictionaries(tag_text, st.lists(tag_text, max_size=4) | tag_text | json_values,
                                          max_size=5))
def test_validate_tags_returns_known_tags_or_a_validation_error(tags):
    try:
        cleaned = validate_tags(tags)
    except ValidationError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        return
    taxonomy = {group: set(values) for _, group, _, _, values in DEFAULT_TAXONOMY}
    for group, values in cleaned.items():
        assert group in taxonomy and set(values) <= taxonomy[group], cleaned


# CSV files: either raw bytes, or well-formed CSV whose cells are junk (to get past the parser).
csv_cells = st.text(max_size=30) | tag_text | st.sampled_from(["0", "1", "2", "|", "red|blue", "x" * 200])
csv_headers = st.lists(st.sampled_from(["variant_key", "default", "headline", "subline", "cta", "language",
                                        "image", "tag:button_color", "tag:appeal", "tag:nope", "extra"])
                       | st.text(max_size=12), min_size=1, max_size=6)


@st.composite
def csv_files(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    header = draw(csv_headers)
    rows = draw(st.lists(st.lists(csv_cells, min_size=0, max_size=len(header) + 1), max_size=5))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])), errors="replace")


@FAST
@given(data=csv_files(), name=st.sampled_from(["designs.csv", "designs.xlsx"]))
@example(data=b"variant_key,image\nk1,../../../../etc/hostname\n", name="designs.csv")
@example(data=b"variant_key,image\nk1,a\x00b.png\n", name="designs.csv")
@example(data=b"variant_key,tag:button_color\nk1,\"red\rblue\"\n", name="designs.csv")
@example(data=b"PK\x03\x04 not really a zip", name="designs.xlsx")
def test_import_variants_is_all_or_nothing_with_a_clear_error(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    before = StyleVariant.objects.count()
    try:
        result = variants_import(path=path, placement_slug="imported-banner", create_placement=True)
    except ValidationError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        assert StyleVariant.objects.count() == before, "a refused file must leave nothing behind"
        return
    assert StyleVariant.objects.count() == before + result.created


@FAST
@given(data=csv_files(), name=st.sampled_from(["copies.csv", "copies.xlsx"]))
@example(data=b"headline,cta,tag:appeal\nHi,Go,benefit|nope\n", name="copies.csv")
def test_copy_import_is_all_or_nothing_with_a_clear_error(data, name):
    kit = CreativeKitFactory()
    try:
        result = copies_import(kit=kit, data=data, filename=name)
    except ValidationError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        assert not CopyVariant.objects.filter(kit=kit).exists()
        return
    assert CopyVariant.objects.filter(kit=kit).count() == result.created
