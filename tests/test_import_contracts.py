"""The facade contract on a small graph of two apps: a shop whose front door is `shop.services`,
and a ledger that reads it."""

import grimp
import pytest
from importlinter.domain.helpers import MissingImport

from tests.import_contracts import FacadeContract


def shop_and_ledger(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for module in ("shop", "shop.services", "shop.models", "shop.migrations.0001_initial",
                   "ledger", "ledger.reports", "ledger.migrations.0001_initial", "project", "project.urls"):
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents=f"import {imported}")
    return graph


def contract(**options) -> FacadeContract:
    return FacadeContract(name="facades", session_options={}, contract_options={
        "apps": ["shop", "ledger"], "facades": ["shop.services"], "free_importers": ["project"], **options})


def test_reading_another_app_through_its_facade_keeps_the_contract():
    graph = shop_and_ledger(("ledger.reports", "shop.services"), ("shop.services", "shop.models"))

    assert contract().check(graph, verbose=False).kept


def test_reaching_past_the_facade_breaks_it_and_names_the_import():
    graph = shop_and_ledger(("ledger.reports", "shop.models"))

    check = contract().check(graph, verbose=False)

    assert not check.kept
    assert check.metadata["crossings"] == [("ledger.reports", "shop.models", [3])]


def test_the_project_package_and_migrations_may_import_any_app():
    graph = shop_and_ledger(("project.urls", "shop.models"), ("ledger.migrations.0001_initial", "shop.models"))

    assert contract().check(graph, verbose=False).kept


def test_a_listed_crossing_is_ignored_and_a_stale_one_is_an_error():
    graph = shop_and_ledger(("ledger.reports", "shop.models"))

    check = contract(ignore_imports=["ledger.reports -> shop.models"]).check(graph, verbose=False)
    assert check.kept and check.ignored_import_count == 1

    with pytest.raises(MissingImport):
        contract(ignore_imports=["ledger.reports -> shop.models", "shop.services -> ledger.reports"]).check(
            shop_and_ledger(("ledger.reports", "shop.models")), verbose=False)
