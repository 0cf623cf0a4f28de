"""Where the demo's order export comes from.

The repository carries the UCI Online Retail export (CC BY 4.0) in
``data/online_retail/`` so that ``make demo`` and the tests work from any fresh
clone. The file is not part of the wheel: a merchant's installed package has no
copy, and points the demo at their own export with ``--data`` or
``PERSONALIZATION_DATASET``.
"""

import os
from pathlib import Path

DATASET_VARIABLE = "PERSONALIZATION_DATASET"
# Relative to the root of a source checkout (the folder holding pyproject.toml).
ONLINE_RETAIL = Path("data/online_retail/online_retail_2010_2011.csv.gz")


def find_online_retail(start: Path | None = None) -> Path | None:
    """The demo's dataset: ``PERSONALIZATION_DATASET``, else the repository's copy.

    The repository copy is looked for above ``start`` (default: the working
    directory) and then above this module, so ``make demo`` finds it from any
    folder of the checkout and from an editable install. ``None`` when there is
    neither (an installed wheel run outside a checkout).
    """
    configured = os.environ.get(DATASET_VARIABLE)
    if configured:
        return Path(configured)
    origins = [(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for origin in origins:
        for folder in (origin, *origin.parents):
            candidate = folder / ONLINE_RETAIL
            if candidate.is_file():
                return candidate
    return None


def missing_dataset_message() -> str:
    """What to do when :func:`find_online_retail` found nothing."""
    return (
        f"The Online Retail dataset was not found: it ships in a source checkout as "
        f"{ONLINE_RETAIL} (run the demo from the repository), or give your own export "
        f"with --data PATH or {DATASET_VARIABLE}=PATH."
    )
