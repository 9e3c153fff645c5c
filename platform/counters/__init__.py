"""Running totals the hot path reads instead of counting raw rows (see docs/scaling.md)."""
