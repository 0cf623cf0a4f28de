"""Argument types shared by the management commands."""

import argparse
from datetime import UTC, datetime


def day(value: str) -> datetime:
    """A YYYY-MM-DD option as the start of that day in UTC; argparse reports bad input."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2024-01-31") from None
