"""README's install, done as a merchant does it on Saleor as it ships.

Saleor's environment is made by ``uv sync`` and has no ``pip``. This builds the
wheel, makes a throw-away copy of the Saleor checkout's environment with
``uv sync --frozen`` (seconds: uv's cache is warm), installs the wheel with
``uv pip install``, runs ``manage.py migrate`` on a throw-away database and asks
Saleor, through ``manage.py shell``, whether it found the plugin through its
entry point. Nothing of this worktree is on the path of those processes: only
the wheel.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import quote  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = "saleor_personalization"
PLUGIN_PATH = "saleor_personalization.saleor_adapter.plugin.PersonalizationPlugin"
# Variables of this test run that must not leak into the merchant's processes.
LEAKY = ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")

REPORT = """
import json
import saleor_personalization
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from saleor.plugins.manager import get_plugins_manager
from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID
manager = get_plugins_manager(allow_replica=False)
loader = MigrationLoader(connection)
ours = "saleor_personalization"
print("REPORT " + json.dumps({
    "module": saleor_personalization.__file__,
    "installed_apps": list(settings.INSTALLED_APPS),
    "plugins": list(settings.PLUGINS),
    "manager": [plugin.PLUGIN_ID for plugin in manager.get_plugins()],
    "migrations": sorted(name for app, name in loader.disk_migrations if app == ours),
    "applied": sorted(name for app, name in loader.applied_migrations if app == ours),
    "plugin_id": PLUGIN_ID,
}))
"""

pytestmark = pytest.mark.saleor


def _saleor_checkout() -> Path:
    import saleor

    return Path(saleor.__file__).resolve().parents[1]


def _run(command: list, *, cwd: Path, env: dict, timeout: int = 600) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _server(dbname: str) -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def _copy_database(template: str, name: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``, waiting for the template's last sessions.

    PostgreSQL refuses to copy a database others are connected to; a worker another
    test started may still be closing its connection.
    """
    for attempt in range(20):
        try:
            with _server("postgres") as server:
                server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.5)


@pytest.fixture
def shop_database(django_db_setup, django_db_blocker):
    """A copy of the migrated Saleor test database, as if this plugin was never installed.

    A fresh Saleor migrate takes many minutes; the copy (``CREATE DATABASE ...
    TEMPLATE``) takes seconds. The plugin's tables and migration records are then
    removed, which is the state of a merchant's database before installing it.
    """
    db = settings.DATABASES["default"]
    template = db["NAME"]
    name = f"{template}_wheel_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        connections.close_all()  # a template database must have no open sessions
        _copy_database(template, name)
        try:
            with _server(name) as shop:
                tables = shop.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename LIKE %s",
                    (f"{APP}\\_%",),
                ).fetchall()
                for (table,) in tables:
                    shop.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
                shop.execute("DELETE FROM django_migrations WHERE app = %s", (APP,))
            password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
            host = db["HOST"] or "127.0.0.1"
            yield f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{name}"
        finally:
            with _server("postgres") as server:
                server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_wheel_installs_into_a_uv_made_saleor_environment_migrates_and_is_found(
    tmp_path, shop_database
):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: Saleor 3.23's environments are made with uv")
    saleor_dir = _saleor_checkout()
    if not (saleor_dir / "uv.lock").is_file():
        pytest.skip(f"{saleor_dir} is not a Saleor checkout with uv.lock")
    env = {k: v for k, v in os.environ.items() if k not in LEAKY}

    # The wheel, as `make wheel` builds it (uv builds it in an isolated environment).
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "--out-dir", dist, ROOT], cwd=ROOT, env=env)
    (wheel,) = dist.glob("saleor_personalization-*.whl")

    # A throw-away copy of Saleor's environment, made exactly as Saleor documents it.
    venv = tmp_path / "saleor-venv"
    python = venv / "bin" / "python"
    _run(
        [uv, "sync", "--frozen", "--python", sys.executable],
        cwd=saleor_dir,
        env={**env, "UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    no_pip = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False)
    assert no_pip.returncode != 0, "Saleor's uv environment is expected to have no pip"
    listed = _run([uv, "pip", "list", "--python", python], cwd=tmp_path, env=env)
    assert "saleor-personalization" not in listed

    # README: uv pip install --python <saleor venv>/bin/python <wheel>, then migrate.
    _run([uv, "pip", "install", "--python", python, wheel], cwd=tmp_path, env=env)
    shop_env = {**env, "DATABASE_URL": shop_database, "SECRET_KEY": "wheel-install-test"}
    manage = [python, saleor_dir / "manage.py"]
    migrated = _run([*manage, "migrate", "--no-input"], cwd=saleor_dir, env=shop_env)
    assert f"Applying {APP}.0001_initial... OK" in migrated, migrated
    output = _run([*manage, "shell", "-c", REPORT], cwd=saleor_dir, env=shop_env)
    report = json.loads(output.split("REPORT ", 1)[1])
    assert Path(report["module"]).resolve().is_relative_to(venv.resolve()), report["module"]
    assert APP in report["installed_apps"]
    assert PLUGIN_PATH in report["plugins"]
    assert report["plugin_id"] in report["manager"]
    assert "0001_initial" in report["migrations"]
    assert report["applied"] == report["migrations"]
