"""The dependency rule (docs/architecture.md) holds, and the check catches a breach."""

import shutil
from pathlib import Path

import pytest

from tests.architecture import LAYERS, violations

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "saleor_personalization"


def test_the_package_obeys_the_dependency_rule():
    assert violations(PACKAGE_DIR) == []


def test_every_package_has_a_layer():
    areas = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE_DIR.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists()) and path.name != "__init__.py"
    }
    unplaced = areas - set(LAYERS) - {"saleor_adapter", "standalone", "migrations"}
    assert not unplaced, f"give these a layer in tests/architecture.py and the doc: {unplaced}"


@pytest.fixture
def copy_of_package(tmp_path) -> Path:
    target = tmp_path / "saleor_personalization"
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        (
            "recommender/serving.py",
            "from ..saleor_adapter.availability import in_stock_condition",
            "only the composition root chooses a shop",
        ),
        (
            "offers/issuing.py",
            "from saleor.discount.models import Voucher",
            "only saleor_adapter/ may import Saleor",
        ),
        (
            "graphql/schema.py",
            "from ..standalone.graphql_backend import StandaloneBackend",
            "only the composition root chooses a shop",
        ),
        (
            "saleor_adapter/shop.py",
            "from ..standalone.shop import StandaloneShop",
            "only the composition root chooses a shop",
        ),
        ("models/profiles.py", "from ..services import training", "services is above models"),
        (
            "recommender/lists.py",
            "from ..tasks.recommender import score_all_task",
            "tasks is above",
        ),
    ],
)
def test_a_forbidden_import_is_reported(copy_of_package, module, line, expected):
    assert violations(copy_of_package) == []
    _append(copy_of_package / module, line)
    found = violations(copy_of_package)
    assert len(found) == 1, found
    assert expected in found[0]


def test_imports_for_type_checking_only_are_not_dependencies(copy_of_package):
    _append(
        copy_of_package / "models/profiles.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..services import training",
    )
    assert violations(copy_of_package) == []
