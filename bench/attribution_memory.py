"""Peak memory and time of the attribution grids in the worst case of the row cap.

200,000 random-bucket rows (attribution's MAX_ROWS cap), every row a different user (many users with few
impressions is the normal random bucket), 3 user features of 5 values, 6 tag groups of 10 values each.
Builds the per-profile sums and computes one feature's grids with every tag group, as analytics.findings
does for each feature; reports the traced peak (tracemalloc: numpy's buffers are traced), the peak RSS and
the seconds.

    .venv/bin/python bench/attribution_memory.py [--rows 200000] [--features 1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import findings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=1, help="how many of the 3 features' grids to compute")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    n = args.rows
    users = np.arange(n, dtype=np.int64)  # every row a different user
    segments = {f"f{i}": findings.encode_segments(pd.Series(rng.integers(0, 5, n).astype(str)))
                for i in range(3)}
    tags = {f"g{j}": findings.encode_tags(pd.Series([[f"v{v}"] for v in rng.integers(0, 10, n)]))
            for j in range(6)}
    y = (rng.random(n) < 0.05).astype(float)
    w = np.ones(n)
    tracemalloc.start()
    started = time.perf_counter()
    profiles = findings.Profiles(users, segments, tags, y, w)
    built = time.perf_counter()
    for feature in list(segments)[:args.features]:
        findings.grids_of_feature(profiles, tags, feature=feature, min_support=30)
    done = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows={n} profiles={profiles.size} features={args.features}: traced peak {peak / 2**20:,.0f} MiB, "
          f"peak RSS {rss:,.0f} MiB, profiles {built - started:.1f} s, grids {done - built:.1f} s")


if __name__ == "__main__":
    main()
