"""Training reads the interaction log in chunks into numpy columns: the same rows as reading it whole into
dicts, with memory bounded by the chunk and a stated rule when the log is larger than the cap."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from analytics import interaction_log
from analytics.ingestion import record_events
from ranking import features as F
from ranking import training
from ranking.buckets import ServingMode
from ranking.feature_columns import ColumnBuilder
from ranking.models import Decision
from tests.support.traffic import LoggedImpression, write_traffic

from .factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


def former_rows(*, placement_ids, click_window_s, now, min_mature=0):
    """What collect_rows returned before it streamed: the whole log as one frame, a dict per row."""
    frame = interaction_log.bandit_feedback(placement_ids=placement_ids, buckets=(), limit=None).frame
    frame = frame.sort_values("seq", kind="stable").drop_duplicates(["decision_id", "variant_id"])
    rows = [F.row_features(f, c) for f, c in zip(frame["features"], frame["context"], strict=True)]
    weights = [training.ips_weight(bucket=b, propensity=None if pd.isna(p) else float(p), candidates=int(c), clip=10.0)
               for b, p, c in zip(frame["served_bucket"], frame["served_propensity"], frame["candidates"], strict=True)]
    times = [t.to_pydatetime() for t in frame["decided_at"]]
    order = sorted(range(len(times)), key=times.__getitem__)
    dropped = kept = 0
    cutoff = now - timedelta(seconds=click_window_s)
    mature = [i for i in order if times[i] <= cutoff]
    if len(mature) >= max(min_mature, 1):
        dropped, order = len(order) - len(mature), mature
    else:
        kept = len(order) - len(mature)
    pick = lambda column: [column[i] for i in order]  # noqa: E731
    return {"feature_rows": pick(rows), "variant_ids": pick([int(v) for v in frame["variant_id"]]),
            "positions": pick([int(p) for p in frame["position"]]), "labels": pick([int(c) for c in frame["clicked"]]),
            "weights": pick(weights), "times": pick(times), "dropped": dropped, "kept": kept}


def typed(row):
    """A row with each value's type, so True never equals 1.0 nor 30 equal "30"."""
    def value(v):
        return ("num", "nan" if v != v else float(v)) if type(v) in (int, float) else (type(v).__name__, v)

    return {k: value(v) for k, v in row.items() if type(v) in (int, float, str, bool)}


@pytest.fixture
def mixed_log(settings):
    """Random-bucket traffic, a model-bucket slate of three with a repeated impression and a click, rows
    whose features are of every JSON type, and decisions younger than the click window."""
    settings.KALEIDO_IPS_CLIP = 10.0
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=120, seed=3, start=NOW - timedelta(hours=3))
    odd = [{"age": 41, "vip": True, "note": None, "gender": "true", "holdings": 1.5, "list": [1, 2]},
           {"age": "41", "vip": False, "nested": {"a": 1}, "gender": "f", "holdings": 0},
           {"vip": 1, "gender": True, "holdings": -2.25}]
    write_traffic([LoggedImpression(placement=placement, user_id=f"odd-{i}", variant_id=variants[i].id,
                                    created_at=NOW - timedelta(minutes=50 - i), bucket="model", propensity=0.4,
                                    candidates=36, features=features, context={"device": "ios"}, clicked=i == 1)
                   for i, features in enumerate(odd)])
    slate = Decision.objects.create(
        placement=placement, user_id="slate", features={"age": 33, "gender": "m", "slate": "yes"}, bucket="model",
        assigned_bucket="model", candidates=36, created_at=NOW - timedelta(minutes=40),
        items=[{"variant_id": v.id, "rank": r, "score": 0.1, "propensity": p}
               for r, (v, p) in enumerate(zip(variants[:3], (0.5, 0.3, 0.2), strict=True), start=1)])
    base = {"decision_id": str(slate.decision_id), "user_id": "slate", "placement": placement.slug}
    shown = [("impression", variants[0], 1, 0), ("impression", variants[1], 2, 0), ("impression", variants[2], 3, 0),
             ("impression", variants[1], 2, 5), ("click", variants[1], 2, 9)]  # variant 1 shown twice, clicked
    assert not record_events([{**base, "event_id": uuid.uuid4().hex, "type": kind, "variant_id": v.id, "position": pos,
                               "ts": (slate.created_at + timedelta(seconds=s)).isoformat()}
                              for kind, v, pos, s in shown]).rejected
    write_traffic([LoggedImpression(placement=placement, user_id=f"young-{i}", variant_id=variants[i].id,
                                    created_at=NOW - timedelta(seconds=60 + i), candidates=36,
                                    features={"age": 20 + i}) for i in range(4)])
    return placement


def assert_same_rows(data, former):
    assert [typed(r) for r in data.feature_rows] == [typed(r) for r in former["feature_rows"]]
    assert data.variant_ids.tolist() == former["variant_ids"]
    assert data.positions.tolist() == former["positions"]
    assert data.labels.tolist() == former["labels"]
    assert np.allclose(data.weights, former["weights"], rtol=0, atol=1e-12)
    assert data.times == former["times"]
    assert (data.immature_dropped, data.immature_kept) == (former["dropped"], former["kept"])


def test_the_streamed_rows_are_the_rows_the_whole_log_gave(mixed_log):
    former = former_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW)
    data = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, chunk_rows=16)

    assert len(data) == 120 + 3 + 3 and former["dropped"] == 4  # the slate's repeat counts once; young left out
    assert_same_rows(data, former)
    slate = [i for i, r in enumerate(data.feature_rows) if r.get("slate") == "yes"]
    assert [data.labels[i] for i in slate] == [0, 1, 0] and [data.positions[i] for i in slate] == [1, 2, 3]
    # The spec and the codes the model is fitted on are those the dicts give, on the training split.
    tr = training.split_indices(len(data))[0]
    spec = training.build_spec(data.feature_rows[tr], variant_tags=data.tags_by_variant.values())
    assert spec == F.build_spec(feature_rows=former["feature_rows"][tr], variant_tags=data.tags_by_variant.values())
    assert np.array_equal(training.user_codes(spec, data.feature_rows), F.user_codes(spec, former["feature_rows"]),
                          equal_nan=True)


def test_a_log_that_is_nearly_all_young_is_used_whole_as_before(mixed_log):
    former = former_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, min_mature=10_000)
    data = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, min_mature=10_000)

    assert former["kept"] == 4
    assert_same_rows(data, former)


def test_memory_is_bounded_by_the_chunk_the_log_is_fetched_in(mixed_log, monkeypatch):
    fetched = []
    read = interaction_log.training_impressions

    def counting(**kwargs):
        for chunk in read(**kwargs):
            fetched.append(len(chunk))
            yield chunk

    monkeypatch.setattr(interaction_log, "training_impressions", counting)
    data = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, chunk_rows=7)

    assert sum(fetched) == 127 and max(fetched) == 7 and len(fetched) == math.ceil(127 / 7)  # 126 rows + a repeat
    assert data.sampling["chunks"] == fetched and data.sampling["rows_read"] == 127
    whole = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, chunk_rows=10_000)
    assert [typed(r) for r in data.feature_rows] == [typed(r) for r in whole.feature_rows]
    assert data.labels.tolist() == whole.labels.tolist()


def test_on_postgresql_the_read_is_planned_for_every_row_it_returns(mixed_log):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL planner setting")

    def fraction() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('cursor_tuple_fraction')")
            return float(cursor.fetchone()[0])

    before = fraction()
    chunks = interaction_log.training_impressions(placement_ids=[mixed_log.id], chunk_rows=7)
    next(chunks)  # the named cursor is open, mid-read
    during = fraction()
    rest = sum(len(chunk) for chunk in chunks)
    # Planned like the plain query (sort the narrow impressions, then fetch the kept decisions), not for the
    # first tenth of its rows. (The setting is the transaction's own, set_config(..., true); this test runs
    # inside the test's transaction, so it outlives the read here.)
    assert (before, during) == (0.1, 1.0)
    assert 7 + rest == sum(len(chunk) for chunk in interaction_log.training_impressions(placement_ids=[mixed_log.id]))


def test_past_the_cap_training_keeps_the_most_recent_impressions_and_says_so(mixed_log, settings):
    settings.KALEIDO_TRAINING_MAX_ROWS = 50
    every = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW, max_rows=0)
    data = training.collect_rows(placement_ids=[mixed_log.id], click_window_s=1800, now=NOW)

    assert len(every) == 126 and every.sampling["rule"].startswith("none")
    assert data.sampling["rule"].startswith("most recent") and data.sampling["max_rows"] == 50
    assert (data.sampling["rows_read"], data.sampling["rows_available"]) == (50, 127)
    assert len(data) == 49  # the slate's repeated impression was among the 50 read
    assert data.times == every.times[-49:]  # the newest rows, in time order
    assert data.labels.tolist() == every.labels[-49:].tolist()


def test_train_ranker_reports_the_sampling_rule_and_counts(settings):
    settings.KALEIDO_TRAINING_MAX_ROWS = 900
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=1200, seed=5)
    out = StringIO()

    call_command("train_ranker", placement=placement.slug, algo="logreg", stdout=out)

    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["rows"] == 900
    assert summary["sampling"]["rule"].startswith("most recent")
    assert (summary["sampling"]["rows_read"], summary["sampling"]["rows_available"]) == (900, 1200)


def test_columns_count_and_encode_like_the_dicts():
    rng = np.random.default_rng(0)
    choices = ["a", "b", "true", "false", True, False, 1, 2.5, -0.0, None, float("nan"), float("inf"), [1], {"x": 1}]
    rows = [{name: choices[rng.integers(len(choices))] for name in ("p", "q", "r") if rng.random() < 0.8}
            for _ in range(400)]
    builder = ColumnBuilder()
    for start in range(0, len(rows), 33):
        builder.add(rows[start:start + 33])
    order = rng.permutation(len(rows))[:300]
    columns = builder.finish(order)
    picked = [rows[i] for i in order]

    spec = training.build_spec(columns, variant_tags=[])
    assert spec == F.build_spec(feature_rows=picked, variant_tags=[])
    assert np.array_equal(columns.user_codes(spec), F.user_codes(spec, picked), equal_nan=True)
    numeric = {"user": [{"name": n, "kind": "num", "bins": []} for n in ("p", "q", "r")], "tags": []}
    assert np.array_equal(columns.user_codes(numeric), F.user_codes(numeric, picked), equal_nan=True)
    assert [typed(r) for r in columns[10:20]] == [typed(r) for r in picked[10:20]]
