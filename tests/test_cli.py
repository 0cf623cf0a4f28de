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
    assert "== Learned segments" in result.stdout
    assert "== Abandoned-checkout email (step 2)" in result.stdout
    preview = next((tmp_path / "fresh").rglob("abandoned-checkout-email.html"))
    assert "Return to your cart" in preview.read_text()
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


def test_serve_answers_graphql_with_tokens_from_the_token_command(tmp_path, online_retail_sample):
    import json
    import socket
    import time
    import urllib.error
    import urllib.request

    assert _cli(["load", str(online_retail_sample)], tmp_path).returncode == 0
    token = _cli(["token", "--customer", "17850"], tmp_path).stdout.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if k not in ENV_SKIP}
    environ.update(PERSONALIZATION_HOME=str(tmp_path))
    server = subprocess.Popen(
        [sys.executable, "-m", "saleor_personalization.cli", "serve", f"127.0.0.1:{port}"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def post(query: str, token: str = "") -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql/",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)

    try:
        # Up to a minute: serve migrates first, and a CI machine may be loaded.
        for _ in range(300):
            try:
                body = post('{ trendingProducts(channel: "nope") { warnings } }')
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        else:
            pytest.fail("serve did not start")
        assert body["errors"][0]["extensions"]["code"] == "UNKNOWN_CHANNEL"
        body = post(
            '{ personalizedProducts(channel: "default-channel", first: 3) '
            "{ items { product { id name } reason } } }",
            token,
        )
        assert len(body["data"]["personalizedProducts"]["items"]) == 3, body
        assert post("{ mySegments { key } }", token)["data"] == {"mySegments": []}
        assert post("{ mySegments { key } }", "forged")["errors"][0]["extensions"]["code"] == (
            "INVALID_TOKEN"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_token_needs_a_customer_or_staff(tmp_path):
    result = _cli(["token"], tmp_path)
    assert result.returncode != 0
    assert "--customer" in result.stderr


def test_segment_on_a_fresh_home_creates_the_database_and_says_there_is_no_data(tmp_path):
    result = _cli(["segment"], tmp_path / "new" / "home")
    assert result.returncode == 0, result.stderr
    assert "Learned segments: none yet" in result.stdout


def test_a_bad_date_option_is_a_clear_message(tmp_path):
    result = _cli(["segment", "--as-of", "2024-13-01"], tmp_path)
    assert result.returncode != 0
    assert "'2024-13-01' is not a date like 2024-01-31" in result.stderr
