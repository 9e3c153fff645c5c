"""Attribution at scale: the same statistics from grouped sums instead of per-row and per-user arrays, and
features with a value per user kept out of the segments (they would make a grid of one-user segments).

The fast path is compared with the former definitions (tests/analytics/former_attribution.py) on a small
planted log that has what the shortcuts could get wrong: users whose features drift between impressions,
inverse-propensity weights with rows left out (no usable propensity), a missing feature, a tag listed
twice, shared and unshared dict objects."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from analytics import attribution, findings
from analytics.attribution import _Columns, preference_analysis, segment_column
from tests.analytics import former_attribution as former
from tests.analytics import planted_world as pw


def _planted_log(seed: int = 4, impressions: int = 6_000) -> pd.DataFrame:
    """Planted random-bucket impressions, then made awkward: 20% of rows carry a drifted age or balance (a
    fresh dict), a third are re-served from the model bucket with a propensity (some without one), one in
    ten lists its layout twice, some rows lack gender, and each user has a device id of their own."""
    world = pw.make_world(seed)
    frame = pw.impression_frame(world, impressions=impressions, seed=seed, impressions_per_user=6,
                                user_taste_sd=0.5)
    rng = np.random.default_rng(seed)
    device = {u: f"d{rng.integers(10**9):09d}" for u in frame["user_id"].unique()}
    profiles: dict[str, dict] = {}
    features = []
    for user, f in zip(frame["user_id"], frame["features"], strict=True):
        shared = profiles.setdefault(user, {**f, "device_id": device[user]})
        roll = rng.random()
        if roll < 0.1:
            features.append({**shared, "age": int(rng.integers(18, 80))})
        elif roll < 0.2:
            features.append({**shared, "balance": float(round(rng.lognormal(8, 1.2), 2))})
        elif roll < 0.25:
            features.append({k: v for k, v in shared.items() if k != "gender"})
        else:
            features.append(shared)
    frame["features"] = features
    model = rng.random(len(frame)) < 0.33
    frame["bucket"] = np.where(model, "model", "random")
    frame["candidates"] = len(world.variants)
    frame["propensity"] = np.where(model, rng.uniform(0.002, 0.2, len(frame)), 1.0 / len(world.variants))
    frame.loc[model & (rng.random(len(frame)) < 0.1), "propensity"] = np.nan
    frame["tags"] = [{**t, "layout": t["layout"] * 2} if rng.random() < 0.1 else t for t in frame["tags"]]
    return frame


def _values(segments: pd.Series) -> list:
    """Segment values, None for no segment (pandas may hold it as NaN)."""
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in segments]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_segment_columns_and_tag_codes_are_the_per_row_definitions():
    frame = _planted_log()
    columns = _Columns(frame)

    for feature in [*pw.PREFERENCE_FEATURES, *pw.NO_PREFERENCE_FEATURES, "device_id", "not_sent"]:
        expected = _values(former.segment_column(frame, feature))
        assert _values(columns.segment(feature)) == expected, feature
        assert _values(segment_column(frame, feature)) == expected, feature
    for group in pw.TAG_GROUPS:
        rows, codes, values = columns.encoded_tags(group)
        expected_rows, expected_codes, expected_values = findings.encode_tags(columns.group(group).reset_index(drop=True))
        assert values == expected_values
        assert rows.tolist() == expected_rows.tolist() and codes.tolist() == expected_codes.tolist()
    assert sum(len(t["layout"]) == 2 for t in frame["tags"]) > 0  # the doubled layouts were exploded twice
    # Rows without gender are in no gender segment (not in one called "nan").
    without = [i for i, f in enumerate(frame["features"]) if "gender" not in f]
    assert without and all(columns.segment("gender").iloc[i] is None for i in without)
    assert set(columns.segment("gender").dropna()) == {"f", "m"}


def test_every_cell_of_every_grid_is_the_former_dense_per_user_definition():
    frame = _planted_log()
    columns = _Columns(frame)
    users = pd.factorize(frame["user_id"].astype(str))[0].astype(np.int64)
    features = [*pw.PREFERENCE_FEATURES, *pw.NO_PREFERENCE_FEATURES]
    segments = {f: findings.encode_segments(columns.segment(f).reset_index(drop=True)) for f in features}
    tags = {g: columns.encoded_tags(g) for g in pw.TAG_GROUPS}
    profiles = findings.Profiles(users, segments, tags, columns.y, columns.w)
    assert np.isnan(columns.w).any()  # some rows have no usable propensity and are left out
    assert profiles.size < len(frame)  # rows of one user and profile were summed

    compared = supported = 0
    for feature in features:
        for group in pw.TAG_GROUPS:
            fast = findings.relative_cells(profiles, tags[group], feature=feature, group=group, min_support=30)
            dense = former.relative_cells(users, segments[feature], tags[group], columns.y, columns.w,
                                          feature=feature, group=group, min_support=30)
            assert len(fast) == len(dense)
            for new, old in zip(fast, dense, strict=True):
                assert _same(new, old), (feature, group, new, old)
            compared += len(fast)
            supported += sum(c["supported"] for c in fast)
    assert compared > 200 and supported > 50


def test_a_feature_with_a_value_per_user_is_skipped_and_says_why():
    frame = _planted_log()

    analysis = preference_analysis(frame=frame, min_support=30)

    assert [s["feature"] for s in analysis["skipped_features"]] == ["device_id"]
    skipped = analysis["skipped_features"][0]
    assert skipped["levels"] == frame["user_id"].nunique() > 50
    assert "more than KALEIDO_SEGMENT_MAX_LEVELS = 50" in skipped["reason"]
    assert {f for f, _ in analysis["grids"]} == set(pw.PREFERENCE_FEATURES + pw.NO_PREFERENCE_FEATURES)
    # balance has a value per user too, but numbers are binned first: five bands, a segment.
    assert len({c["segment_value"] for c in analysis["grids"][("balance", "layout")]}) <= 5


def test_the_level_limit_is_a_setting(settings):
    frame = _planted_log(impressions=3_000)
    settings.KALEIDO_SEGMENT_MAX_LEVELS = 2

    analysis = preference_analysis(frame=frame, min_support=30)

    skipped = {s["feature"] for s in analysis["skipped_features"]}
    assert skipped == {"device_id", "age", "tenure_days", "income_band", "balance"}
    assert {f for f, _ in analysis["grids"]} == {"has_card", "gender"}


@pytest.mark.django_db
def test_a_grid_on_a_feature_with_a_value_per_user_answers_400_with_a_field_message(api_client_with, monkeypatch):
    from tests.factories import PlacementFactory

    PlacementFactory(slug="wide-banner")
    frame = _planted_log(impressions=3_000)
    monkeypatch.setattr(attribution, "impression_frame", lambda **_: frame)
    client = api_client_with("analytics:read")

    refused = client.get("/api/v1/placements/wide-banner/attribution?segment=device_id&tag_group=layout")
    answered = client.get("/api/v1/placements/wide-banner/attribution?segment=age&tag_group=layout")

    assert refused.status_code == 400
    message = refused.json()["errors"]["segment"][0]
    assert "device_id has" in message and "distinct values" in message and "KALEIDO_SEGMENT_MAX_LEVELS" in message
    assert answered.status_code == 200
    body = answered.json()
    assert body["cells"] and [s["feature"] for s in body["skipped_features"]] == ["device_id"]
    with pytest.raises(CommandError, match="device_id has"):
        call_command("attribution_report", "wide-banner", "--segment", "device_id", "--tag-group", "layout",
                     stdout=io.StringIO())


@pytest.mark.django_db
def test_a_grid_on_a_segment_and_tag_group_nobody_sent_answers_with_no_cells(api_client_with, monkeypatch):
    from tests.factories import PlacementFactory

    PlacementFactory(slug="typo-banner")
    frame = _planted_log(impressions=3_000)
    monkeypatch.setattr(attribution, "impression_frame", lambda **_: frame)
    client = api_client_with("analytics:read")

    # An analyst mistypes both names: an empty grid, not a server error.
    answered = client.get("/api/v1/placements/typo-banner/attribution?segment=agee&tag_group=%27")

    assert answered.status_code == 200, answered.content
    assert answered.json()["cells"] == []
