"""Where the shared Online Retail dataset lives.

The project reads it from ``../shared/datasets/online_retail/`` relative to the
project root and never copies it; ``PERSONALIZATION_DATASET`` points elsewhere.
"""

import os
from pathlib import Path

ONLINE_RETAIL = Path("shared/datasets/online_retail/online_retail_2010_2011.csv.gz")


def find_online_retail(start: Path | None = None) -> Path | None:
    """The dataset file: ``PERSONALIZATION_DATASET``, else ``shared/`` beside a parent folder.

    The search starts at ``start`` (default: the working directory) and then at the
    source checkout this package was installed from, so ``make demo`` finds it from
    anywhere in the project.
    """
    configured = os.environ.get("PERSONALIZATION_DATASET")
    if configured:
        return Path(configured)
    starts = [(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for origin in starts:
        for folder in (origin, *origin.parents):
            candidate = folder / ONLINE_RETAIL
            if candidate.is_file():
                return candidate
    return None
