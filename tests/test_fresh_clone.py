"""A fresh clone carries the demo's data: nothing beside it is needed.

The clone is made with ``git clone`` of this repository into an empty temporary
folder, so only what is committed counts (a file present in a working tree but
never committed would pass a test that looked at the tree itself).
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from saleor_personalization.standalone.datasets import DATASET_VARIABLE, ONLINE_RETAIL

ROOT = Path(__file__).resolve().parents[1]
LOOKUP = (
    "import saleor_personalization.standalone.datasets as d; "
    "print(d.__file__); print(d.find_online_retail())"
)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    target = tmp_path_factory.mktemp("empty") / "saleor-personalization"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    assert sorted(p.name for p in target.parent.iterdir()) == ["saleor-personalization"]
    return target


def _lookup(clone: Path, cwd: Path, **env) -> tuple[Path, str]:
    environ = {k: v for k, v in os.environ.items() if k != DATASET_VARIABLE}
    environ.update(PYTHONPATH=str(clone), **env)
    result = subprocess.run(
        [sys.executable, "-c", LOOKUP],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    module, found = result.stdout.split()
    return Path(module), found


@pytest.mark.parametrize("folder", [".", "saleor_personalization/standalone"])
def test_the_demo_finds_the_clones_own_dataset(clone, folder):
    module, found = _lookup(clone, clone / folder)
    assert module.is_relative_to(clone), "the clone's own code must run"
    assert Path(found) == clone / ONLINE_RETAIL


def test_the_clones_dataset_is_the_whole_export_named_in_its_readme(clone):
    readme = (clone / ONLINE_RETAIL.parent / "README.md").read_text()
    assert "CC BY 4.0" in readme
    assert "archive.ics.uci.edu/dataset/352" in readme
    expected = re.search(rf"`{ONLINE_RETAIL.name}` \| [\d,]+ \| `([0-9a-f]{{64}})`", readme)
    assert expected, "the README lists the file's sha256"
    digest = hashlib.sha256((clone / ONLINE_RETAIL).read_bytes()).hexdigest()
    assert digest == expected.group(1)


def test_a_merchants_own_export_wins_over_the_shipped_one(clone, tmp_path):
    own = tmp_path / "orders.csv"
    _, found = _lookup(clone, clone, **{DATASET_VARIABLE: str(own)})
    assert Path(found) == own
