"""The alert rules and the Grafana dashboard shipped in docs/monitoring/ load, and every metric they name is
one Kaleido exposes, so a renamed metric cannot leave a silent alert or an empty panel behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kaleido import metrics

pytestmark = pytest.mark.django_db

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
METRIC = re.compile(r"\bkaleido_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def exposed_names() -> set[str]:
    """Every family Kaleido exposes, with the sample names (suffixes) Prometheus sees."""
    names = set()
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        if family.name.startswith("kaleido_"):
            names.add(family.name)
            names.update(family.name + s for s in _SUFFIXES)
    return names


def base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_alert_has_a_runbook_entry_and_names_only_exposed_metrics():
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"][0]["rules"]
    runbook = (MONITORING.parent / "operations.md").read_text()
    exposed = exposed_names() | {base(n) for n in exposed_names()}

    assert len(rules) >= 8
    for rule in rules:
        assert rule["alert"] in runbook, f"no runbook entry for {rule['alert']}"
        named = set(METRIC.findall(rule["expr"]))
        assert named, rule["alert"]
        assert named <= exposed, f"{rule['alert']} names {named - exposed}"


def test_every_dashboard_panel_queries_exposed_metrics():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exposed = exposed_names() | {base(n) for n in exposed_names()}

    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 10
    for panel in panels:
        named = {m for t in panel["targets"] for m in METRIC.findall(t["expr"])}
        assert named and named <= exposed, f"{panel['title']} names {named - exposed}"
