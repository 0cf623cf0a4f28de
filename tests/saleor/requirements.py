"""When the Saleor integration tests can run, and why not otherwise."""

import os

import pytest

SETTINGS = "tests.saleor.settings"
HOW = (
    "run them inside a Saleor 3.23 checkout's environment: "
    "make test-saleor SALEOR_DIR=/path/to/saleor (see README, 'Saleor integration tests')"
)


def saleor_unavailable_reason() -> str | None:
    try:
        import saleor  # noqa: F401
    except ImportError:
        return f"Saleor is not importable in this environment; {HOW}"
    if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS:
        return f"Saleor is importable but the suite runs with other settings; {HOW}"
    return None


def require_saleor() -> None:
    """Skip the calling test module, with the reason, unless Saleor is here."""
    reason = saleor_unavailable_reason()
    if reason:
        pytest.skip(reason, allow_module_level=True)
