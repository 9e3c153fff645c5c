"""The import-linter contract types the project's boundaries need (see [tool.importlinter] in pyproject.toml).

`facade`: apps import each other only through the modules each app names as its front door (see
`FacadeContract`).

`single_join`: only the allowed modules import every one of a set of model classes. Import-linter's
own contracts see modules, not names; `ranking.models` also holds `Experiment` and `ModelVersion`,
which reports may import freely, so "no one but the interaction log joins decisions and events" is a
check on the names each module imports: `from ranking.models import Decision` and
`from analytics.models import Event` (or `.models` inside analytics, or a whole `models` module)
in one module means that module can join the two tables itself.
"""

from __future__ import annotations

import ast
import importlib.util

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: str) -> set[tuple[str, str]]:
    """(module, name) for each name `module` imports with `from … import`; a module imported whole
    gives (that module, "*")."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), filename=spec.origin)
    is_package = spec.submodule_search_locations is not None
    names: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for alias in node.names:
                names.add((base, alias.name))
                names.add((f"{base}.{alias.name}", "*"))
        elif isinstance(node, ast.Import):
            names.update((alias.name, "*") for alias in node.names)
    return names


class SingleJoinContract(Contract):
    """Only `allowed` modules (and migrations) under `containers` import every one of `models`
    ("package.module:Name")."""

    type_name = "single_join"

    containers = fields.ListField(subfield=fields.StringField())
    models = fields.ListField(subfield=fields.StringField())
    allowed = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        wanted = [tuple(m.split(":", 1)) for m in self.models]  # type: ignore[attr-defined]
        allowed = set(self.allowed or [])  # type: ignore[arg-type]
        offenders = []
        for container in self.containers:  # type: ignore[attr-defined]
            for module in sorted(graph.find_descendants(container) | {container}):
                if module in allowed or ".migrations" in module:
                    continue
                names = imported_names(module)
                if all((path, name) in names or (path, "*") in names for path, name in wanted):
                    offenders.append(module)
        return ContractCheck(kept=not offenders, metadata={"offenders": offenders})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module in check.metadata["offenders"]:
            output.print_error(f"{module} imports {' and '.join(self.models)}: read the join "  # type: ignore[arg-type]
                               "through analytics.interaction_log instead.")
            output.new_line()


def _app_of(module: str, apps: list[str]) -> str | None:
    return next((app for app in apps if module == app or module.startswith(app + ".")), None)


def _within(module: str, packages: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


class FacadeContract(Contract):
    """Each of `apps` is imported by the others only through its `facades` (modules, with what is
    under them); `free_importers` (the project package, which wires every app together) may import
    any app. Migrations are generated code and are not checked. `ignore_imports` lists the crossings
    that remain, as in import-linter's own contracts, and an entry that no longer matches is an error."""

    type_name = "facade"

    apps = fields.ListField(subfield=fields.StringField())
    facades = fields.ListField(subfield=fields.StringField())
    free_importers = fields.ListField(subfield=fields.StringField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph, ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=contract_utils.AlertLevel.ERROR)
        apps: list[str] = list(self.apps)  # type: ignore[call-overload]
        facades = set(self.facades)  # type: ignore[call-overload]
        free = set(self.free_importers or [])  # type: ignore[call-overload]
        crossings = []
        for importer in sorted(graph.modules):
            if _within(importer, free) or ".migrations" in importer:
                continue
            own = _app_of(importer, apps)
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = _app_of(imported, apps)
                if target is None or target == own or _within(imported, facades):
                    continue
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                crossings.append((importer, imported, lines))
        return ContractCheck(kept=not crossings, warnings=list(removal.warnings),
                             ignored_import_count=removal.ignored_import_count,
                             metadata={"crossings": crossings})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["crossings"]:
            output.print_error(f"- {importer} -> {imported} (l.{', '.join(map(str, lines))}): "
                               "go through the app's facade, or list the crossing with a reason.", bold=False)
            output.new_line()
        output.print(f"Facades: {', '.join(sorted(self.facades))}.")  # type: ignore[call-overload]
        output.new_line()
