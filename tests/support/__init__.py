"""Code tests and benchmarks share: builders for tiny models and simulated worlds, not product code."""
