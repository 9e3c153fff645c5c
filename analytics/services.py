"""Analytics' front door for the other apps: the reports they show.

The other apps read analytics through this module, the interaction log (`analytics.interaction_log`, the
decisions × events read API and its write services), and two rule modules of plain functions: the
statistics (`analytics.stats`) and the importance-weight rule (`analytics.importance`). Everything
else in analytics is its own (an import-linter contract checks it; see docs/architecture.md).
"""

from __future__ import annotations

from .experiments import ExperimentReportError, experiment_report

__all__ = ["ExperimentReportError", "experiment_report"]
