"""Saleor's own test settings, with this package installed through its entry point."""

from saleor.tests.settings import *  # noqa: F403

PERSONALIZATION_DEFAULT_CHANNEL = "main"
