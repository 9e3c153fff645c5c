"""Users are split into buckets by a stable hash; the split matches the configured shares."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from scipy.stats import chisquare

from ranking.buckets import assign_bucket, parse_buckets

SHARES = {"control": 0.2, "random": 0.2, "model": 0.6}


def test_the_same_user_always_lands_in_the_same_bucket():
    first = [assign_bucket(salt="s1", user_id=f"u-{i}", shares=SHARES) for i in range(2000)]
    again = [assign_bucket(salt="s1", user_id=f"u-{i}", shares=SHARES) for i in range(2000)]
    assert first == again


def test_bucket_sizes_match_the_shares_within_sampling_error():
    n = 30000
    counts = {b: 0 for b in SHARES}
    for i in range(n):
        counts[assign_bucket(salt="home-ab", user_id=f"user-{i}", shares=SHARES)] += 1

    result = chisquare([counts[b] for b in SHARES], [SHARES[b] * n for b in SHARES])
    assert result.pvalue > 0.001


def test_a_new_salt_reshuffles_users():
    a = [assign_bucket(salt="a", user_id=f"u{i}", shares={"control": 0.5, "model": 0.5}) for i in range(1000)]
    b = [assign_bucket(salt="b", user_id=f"u{i}", shares={"control": 0.5, "model": 0.5}) for i in range(1000)]
    agreement = sum(x == y for x, y in zip(a, b, strict=True)) / 1000
    assert 0.4 < agreement < 0.6


def test_bucket_specs_are_parsed_and_checked():
    assert parse_buckets("control=0.2, random=0.2,model=0.6") == SHARES
    for bad in ["control=0.5,model=0.6", "control=1,treatment=0", "control=half,model=0.5", "control"]:
        with pytest.raises(ValidationError):
            parse_buckets(bad)
