import gzip
import os
from pathlib import Path

import pytest

import saleor_personalization.standalone.celery  # noqa: F401  binds shared tasks
from saleor_personalization.standalone.datasets import find_online_retail, missing_dataset_message

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    """The repository's Online Retail export (or ``PERSONALIZATION_DATASET``)."""
    path = find_online_retail(ROOT)
    if path is None or not path.is_file():
        pytest.fail(missing_dataset_message())
    return path


@pytest.fixture(scope="session")
def online_retail_sample(online_retail_path, tmp_path_factory) -> Path:
    """The first 5,000 data rows of the real export, as a plain CSV."""
    target = tmp_path_factory.mktemp("data") / "online_retail_sample.csv"
    with gzip.open(online_retail_path, "rt", newline="") as src, target.open("w") as dst:
        for index, line in enumerate(src):
            if index > 5000:
                break
            dst.write(line)
    return target


@pytest.fixture
def media(settings, tmp_path):
    """Model artifacts in this test's own folder (the worker test shares it by path)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def write_csv(tmp_path):
    """Write an export from header + rows and return its path."""

    def write(rows: list[str], header: str | None = None, name: str = "export.csv") -> Path:
        header = header or (
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
        )
        path = tmp_path / name
        path.write_text("\n".join([header, *rows]) + "\n")
        return path

    return write


def pytest_report_header(config):
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (embedded default)')}"
