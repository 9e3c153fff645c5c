"""Real logs: a slice of the Open Bandit Dataset (ZOZOTOWN, uniform random policy; tests/data/open_bandit)
goes in through the commands an operator would use, and the activation gate keeps out the model it trains.

5,000 real impressions of 80 items at three positions carry 23 clicks: too few for any model to beat
predicting the mean click rate on data it did not train on. Whatever the ranker learns from them is noise,
so `train_ranker --activate` must store the model, refuse to put it live, exit non-zero and say why.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from creative.models import Placement, StyleVariant, VariantStatus
from ranking import services
from ranking.models import ModelVersion

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "open_bandit"
SLUG = "zozotown-all"
USER_FEATURES = ("user_feature_0", "user_feature_1", "user_feature_2", "user_feature_3")


def _variants_csv(tmp_path: Path) -> Path:
    """One variant per item; its categorical features become tag groups, its number a quartile band."""
    with (DATA / "item_context.csv").open() as f:
        items = list(csv.DictReader(f))
    edges = np.quantile([float(i["item_feature_0"]) for i in items], [0.25, 0.5, 0.75])
    out = tmp_path / "obd_variants.csv"
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["variant_key", "default", "headline", "tag:item_feature_1", "tag:item_feature_2",
                         "tag:item_feature_3", "tag:item_feature_0_band"])
        for item in items:
            band = f"q{int(np.searchsorted(edges, float(item['item_feature_0']), side='right')) + 1}"
            writer.writerow([f"item-{item['item_id']}", "1" if item["item_id"] == "0" else "0",
                             f"Item {item['item_id']}", f"c{item['item_feature_1']}", f"c{item['item_feature_2']}",
                             f"c{item['item_feature_3']}", band])
    return out


def _impressions_csv(tmp_path: Path) -> tuple[Path, int, int]:
    """Each logged row as Kaleido imports history: one decision, the random bucket, the logged propensity."""
    out = tmp_path / "obd_impressions.csv"
    rows = clicks = 0
    with (DATA / "random_all_slice.csv").open() as f, out.open("w", newline="") as g:
        writer = csv.writer(g)
        writer.writerow(["user_id", "variant_key", "clicked", "bucket", "propensity", "position", "ts",
                         *(f"feature:{name}" for name in USER_FEATURES)])
        for row in csv.DictReader(f):
            # The dataset has no user ids: each logged row is its own visitor.
            writer.writerow([f"obd-{row['source_row']}", f"item-{row['item_id']}", row["click"], "random",
                             row["propensity_score"], row["position"], row["timestamp"].replace(" ", "T"),
                             *(f"h{row[name]}" for name in USER_FEATURES)])
            rows += 1
            clicks += int(row["click"])
    return out, rows, clicks


def test_the_open_bandit_slice_imports_as_history_trains_and_the_gate_keeps_the_model_out(tmp_path, capsys):
    call_command("import_variants", str(_variants_csv(tmp_path)), "--placement", SLUG, "--create-placement",
                 "--create-tags")
    placement = Placement.objects.get(slug=SLUG)
    assert StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE).count() == 80
    impressions, rows, clicks = _impressions_csv(tmp_path)
    assert (rows, clicks) == (5000, 23)

    with pytest.raises(CommandError, match="nothing was imported"):  # 2019 is far outside the retention window
        call_command("import_impressions", str(impressions), "--placement", SLUG)
    assert "import with --historical" in capsys.readouterr().err
    call_command("import_impressions", str(impressions), "--placement", SLUG, "--historical")

    from analytics import interaction_log

    feedback = interaction_log.bandit_feedback(placement=placement, buckets=["random"], limit=None)
    assert feedback.n_rounds == 5000 and int(feedback.reward.sum()) == 23
    assert set(feedback.position.tolist()) == {1, 2, 3} and np.allclose(feedback.pscore, 1 / 80)
    capsys.readouterr()

    with pytest.raises(CommandError) as refused:
        call_command("train_ranker", "--placement", SLUG, "--activate")

    printed = capsys.readouterr().out
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["activated"] is False, summary
    assert summary["gate"]["passed"] is False and summary["gate"]["reasons"], summary["gate"]
    assert "not activated" in str(refused.value) and "--force" in str(refused.value)
    stored = ModelVersion.objects.get(version=summary["model_version"])
    assert stored.placement_id == placement.id  # kept for inspection, never live
    assert services.active_model_version(placement) is None
