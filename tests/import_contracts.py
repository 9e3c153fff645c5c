"""An import-linter contract type the project's boundaries need (see [tool.importlinter] in pyproject.toml).

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
