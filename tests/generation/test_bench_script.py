"""The GPU benchmark is one script; on CPU its --tiny run exercises every measurement path but compiling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_end_to_end_on_the_tiny_pipeline(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "generation.py"), "--tiny", "--no-compile",
                           "--steps", "2", "--threads", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["smoke"] is True and results["sd15_eager_its"] > 0 and results["sdxl_eager_its"] > 0
    assert results["sd15_eager_s_per_image_b4"] > 0 and results["lora_switch_eager_ms"] > 0
    assert "| SD 1.5 512² it/s, eager |" in done.stdout and "54.5" in done.stdout
