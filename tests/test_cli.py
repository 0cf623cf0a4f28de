"""The console script, run as a merchant would run it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENV_SKIP = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")


def _cli(args, home: Path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ENV_SKIP}
    environ.update(PERSONALIZATION_HOME=str(home), **env)
    script = shutil.which("saleor-personalization", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "saleor_personalization.cli"]
    return subprocess.run(
        [*command, *args], env=environ, capture_output=True, text=True, check=False
    )


def test_help_lists_the_commands(tmp_path):
    result = _cli(["--help"], tmp_path)
    assert result.returncode == 0
    assert "demo" in result.stdout
    assert "load" in result.stdout


def test_no_arguments_prints_usage_and_fails(tmp_path):
    result = _cli([], tmp_path)
    assert result.returncode == 2
    assert "usage: saleor-personalization" in result.stdout


def test_load_missing_file_is_a_clear_message(tmp_path):
    _cli(["migrate", "-v0"], tmp_path)
    result = _cli(["load", str(tmp_path / "missing.csv")], tmp_path)
    assert result.returncode != 0
    assert "missing.csv: no such file. Nothing was loaded." in result.stderr
    assert "Traceback" not in result.stderr


def test_load_wrong_columns_is_a_clear_message(tmp_path):
    _cli(["migrate", "-v0"], tmp_path)
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    result = _cli(["load", str(path)], tmp_path)
    assert result.returncode != 0
    assert "wrong columns" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_then_reload_reports_nothing_new(tmp_path, online_retail_sample):
    _cli(["migrate", "-v0"], tmp_path)
    first = _cli(["load", str(online_retail_sample)], tmp_path)
    assert first.returncode == 0, first.stderr
    second = _cli(["load", str(online_retail_sample)], tmp_path)
    assert second.returncode == 0, second.stderr
    assert re.search(r"purchases recorded\s+0\n", second.stdout)
    assert re.search(r"purchases already present\s+3,575\n", second.stdout)


def test_demo_runs_end_to_end_on_a_fresh_home(tmp_path, online_retail_sample):
    result = _cli(["demo", "--data", str(online_retail_sample)], tmp_path / "fresh")
    assert result.returncode == 0, result.stderr
    assert "== Load online_retail_sample.csv" in result.stdout
    assert "== Feature store" in result.stdout
    assert "Demo finished." in result.stdout


def test_demo_without_a_dataset_says_where_it_looked(tmp_path):
    result = _cli(["demo"], tmp_path, PERSONALIZATION_DATASET=str(tmp_path / "none.csv.gz"))
    assert result.returncode != 0
    assert "no such file" in result.stderr


@pytest.mark.parametrize("command", ["demo", "load", "backfill"])
def test_each_command_has_help(tmp_path, command):
    result = _cli([command, "--help"], tmp_path)
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_backfill_outside_saleor_says_where_to_run_it(tmp_path):
    result = _cli(["backfill"], tmp_path)
    assert result.returncode != 0
    assert "backfill reads Saleor's tables" in result.stderr
    assert "Traceback" not in result.stderr
