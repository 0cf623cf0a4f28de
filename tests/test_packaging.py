"""The wheel a merchant installs carries everything Django needs at run time, and no data."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "saleor_personalization"


def test_wheel_contains_migrations_templates_and_entry_points(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = tmp_path.glob("saleor_personalization-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    migrations = {str(p.relative_to(ROOT)) for p in (PACKAGE / "migrations").glob("*.py")}
    assert "saleor_personalization/migrations/0001_initial.py" in migrations
    assert migrations <= names
    templates = {
        str(p.relative_to(ROOT)) for p in (PACKAGE / "templates").rglob("*") if p.is_file()
    }
    assert templates <= names
    # GraphiQL's assets (the standalone page works offline) ship; the demo data does not.
    static = {str(p.relative_to(ROOT)) for p in (PACKAGE / "static").rglob("*") if p.is_file()}
    assert "saleor_personalization/static/saleor_personalization/graphiql/graphiql.min.js" in static
    assert static <= names
    assert not [n for n in names if n.startswith("data/") or n.endswith((".csv", ".csv.gz"))]

    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[saleor.plugins]" in text
    assert "saleor_personalization = saleor_personalization.saleor_adapter.plugin:PersonalizationPlugin" in text
    assert "saleor-personalization = saleor_personalization.cli:main" in text
