"""The dependency rule of docs/architecture.md, checked on the source's imports.

Modules are read with :mod:`ast` (nothing is imported or run), relative imports are
resolved, and imports under ``if TYPE_CHECKING:`` are left out (they are types for the
reader, not dependencies at run time). Each package of ``saleor_personalization`` has
a layer; a module may import its own layer and the layers below it. The two shop
implementations sit beside the core, not in it: only they import ``saleor`` (the
Saleor one) or the standalone server's code, and nothing in the core imports them.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "saleor_personalization"

# Layer of each top-level module or package, lowest first (docs/architecture.md).
LAYERS: dict[str, int] = {
    # values and tables
    "models": 0,
    "conf": 0,
    "configuration": 0,
    # the port: what the core needs from a shop
    "shop": 1,
    # the domain: one package per capability
    "events": 2,
    "features": 2,
    "recommender": 2,
    "segments": 2,
    "offers": 2,
    "emails": 2,
    # one service per use case
    "services": 3,
    # entry points: Celery, GraphQL, management commands, the console script
    "tasks": 4,
    "graphql": 4,
    "management": 5,
    "cli": 5,
    "apps": 5,
}
# The shop implementations: they may import the core; the core never imports them.
ADAPTERS = {"saleor_adapter", "standalone"}
# Process entry points that choose the standalone settings before Django starts.
STANDALONE_ENTRY_POINTS = {f"{PACKAGE}.cli"}
IGNORED = {"migrations"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (absolute)
    line: int


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(sub) for sub in ast.walk(child))
    return skipped


def imports(root: Path) -> list[Import]:
    """Every import of the package under ``root`` (the package directory)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if IGNORED & set(path.relative_to(root).parts):
            continue
        name, is_package = _module_name(path, root)
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found.extend(Import(name, alias.name, node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                found.append(Import(name, target, node.lineno))
    return found


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(root: Path) -> list[str]:
    """What breaks the rule, one line per import, empty when the tree obeys it."""
    problems = []
    for imp in imports(root):
        source, target = _area(imp.source), _area(imp.target)
        where = f"{imp.source}:{imp.line} imports {imp.target}"
        is_saleor = imp.target == "saleor" or imp.target.startswith("saleor.")
        if is_saleor and source != "saleor_adapter":
            problems.append(f"{where}: only saleor_adapter/ may import Saleor")
            continue
        if not imp.target.startswith(f"{PACKAGE}.") or source == "":
            continue
        if source not in LAYERS and source not in ADAPTERS:
            problems.append(f"{where}: {source!r} has no layer (add it to LAYERS)")
            continue
        if target in ADAPTERS:
            if source == target:
                continue
            if target == "standalone" and imp.source in STANDALONE_ENTRY_POINTS:
                continue
            problems.append(f"{where}: only the composition root chooses a shop (get_shop())")
            continue
        if source in ADAPTERS or target not in LAYERS:
            continue
        if LAYERS[target] > LAYERS[source]:
            problems.append(
                f"{where}: {target} is above {source} (layer {LAYERS[target]} > {LAYERS[source]})"
            )
    return problems
