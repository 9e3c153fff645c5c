"""Attribution's per-user variance is summed over blocks of users, so a grid's memory stays bounded however
many users the rows have: the cells must not depend on how the users were cut into blocks.

The planted log (tests/analytics/test_attribution_at_scale.py) has users whose features drift, so a user has
several profiles: a block boundary inside one user would drop the cross terms of their sums, and this test
would see it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import findings
from analytics.attribution import _Columns
from tests.analytics import planted_world as pw
from tests.analytics.test_attribution_at_scale import _planted_log, _same


def _grids(frame: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    columns = _Columns(frame)
    users = pd.factorize(frame["user_id"].astype(str))[0].astype(np.int64)
    features = [*pw.PREFERENCE_FEATURES, *pw.NO_PREFERENCE_FEATURES]
    segments = {f: findings.encode_segments(columns.segment(f).reset_index(drop=True)) for f in features}
    tags = {g: columns.encoded_tags(g) for g in pw.TAG_GROUPS}
    profiles = findings.Profiles(users, segments, tags, columns.y, columns.w)
    assert profiles.size > len(np.unique(users))  # some users have several profiles
    grids = {}
    for feature in features:
        for group, cells in findings.grids_of_feature(profiles, tags, feature=feature, min_support=30).items():
            grids[(feature, group)] = cells
    return grids


def _counting_blocks(monkeypatch) -> list[int]:
    blocks: list[int] = []
    summed = findings._sum_of_squared_influences

    def counted(*args, **kwargs):
        blocks.append(len(args[1]))  # the block's profiles
        return summed(*args, **kwargs)

    monkeypatch.setattr(findings, "_sum_of_squared_influences", counted)
    return blocks


@pytest.mark.parametrize("profiles_per_block", [1, 7])
def test_a_small_block_budget_gives_the_same_cells_as_one_block(monkeypatch, profiles_per_block):
    frame = _planted_log(impressions=3_000)
    blocks = _counting_blocks(monkeypatch)
    whole = _grids(frame)
    assert blocks and max(blocks) > 50 and len(blocks) == len(whole) // len(pw.TAG_GROUPS)  # one block a feature

    blocks.clear()
    tag_values = sum(len(_Columns(frame).encoded_tags(g)[2]) for g in pw.TAG_GROUPS)
    monkeypatch.setattr(findings, "_BLOCK_ENTRIES", profiles_per_block * tag_values)
    in_blocks = _grids(frame)

    assert len(blocks) > 100 * len(whole) // len(pw.TAG_GROUPS)  # many blocks per feature
    assert in_blocks.keys() == whole.keys()
    compared = 0
    for key, cells in whole.items():
        assert len(in_blocks[key]) == len(cells)
        for small, one in zip(in_blocks[key], cells, strict=True):
            assert _same(small, one), (key, small, one)
        compared += sum(c["supported"] for c in cells)
    assert compared > 50  # intervals and p-values were compared, not only empty cells


def _pooled(frame: pd.DataFrame) -> dict:
    """The pooled analysis itself (preference_analysis would answer the second call from its cache)."""
    columns = _Columns(frame)
    features, _skipped = columns.bounded(columns.feature_names(), None)
    return findings.analyse(columns, features=features, tag_groups=columns.group_names(), min_support=150)


def test_the_pooled_findings_do_not_depend_on_the_block_budget(monkeypatch):
    world = pw.make_world(11)
    frame = pw.impression_frame(world, impressions=20_000, seed=11)
    blocks = _counting_blocks(monkeypatch)
    whole = _pooled(frame)
    one_block_each = len(blocks)
    monkeypatch.setattr(findings, "_BLOCK_ENTRIES", 50 * 20)  # about 50 profiles a block
    in_blocks = _pooled(frame)

    assert len(blocks) - one_block_each > 10 * one_block_each
    assert whole["findings"], "the planted preferences are found"
    assert _same(in_blocks["findings"], whole["findings"])
    assert _same(in_blocks["families"], whole["families"])
    assert _same(in_blocks["grids"], whole["grids"])
