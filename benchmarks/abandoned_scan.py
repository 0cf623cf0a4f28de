"""Abandoned-checkout detection over 100,000 open checkouts (target: seconds).

    make benchmark-emails        # PostgreSQL on 127.0.0.1 (database personalization_bench)

Fills the cart mirror with 100k open checkouts (a tenth completed, a tenth empty,
most idle past step 1, some already emailed), then times the scan that finds the due
steps and creates their rows, and a second scan (nothing new: the steady state of a
beat tick). The baseline printed beside it is a plain count of the open carts, in
the same run, so the ratio is comparable across machines.
"""

import os
import sys
import tempfile
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")
os.environ.setdefault("PERSONALIZATION_HOME", tempfile.mkdtemp(prefix="sp-bench-"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/personalization_bench")

import django

django.setup()

from dataclasses import replace  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.configuration import parse_configuration  # noqa: E402
from saleor_personalization.emails.sequence import create_due, due  # noqa: E402
from saleor_personalization.models import (  # noqa: E402
    AbandonedEmail,
    CartState,
    CustomerProfile,
)

CHECKOUTS = int(os.environ.get("BENCH_CHECKOUTS", "100000"))


def ensure_database() -> None:
    import psycopg

    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return
    with psycopg.connect(
        host=settings["HOST"], user=settings["USER"], dbname="postgres", autocommit=True
    ) as admin:
        if not admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]
        ).fetchone():
            admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')


def fill(now) -> None:
    AbandonedEmail.objects.all().delete()
    CartState.objects.all().delete()
    CustomerProfile.objects.all().delete()
    CustomerProfile.objects.bulk_create(
        (
            CustomerProfile(customer_id=k, email=f"c{k}@example.com", marketing_consent=k % 3 != 0)
            for k in range(1, CHECKOUTS + 1)
        ),
        batch_size=5000,
    )
    carts = []
    for k in range(1, CHECKOUTS + 1):
        carts.append(
            CartState(
                token=f"bench-{k}",
                channel="default-channel",
                customer_id=k,
                email=f"c{k}@example.com",
                lines={} if k % 10 == 1 else {"v1": [1, 1]},
                last_change_at=now - timedelta(minutes=(k * 7) % (5 * 24 * 60)),
                completed_at=now if k % 10 == 2 else None,
            )
        )
    CartState.objects.bulk_create(carts, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> int:
    ensure_database()
    call_command("migrate", verbosity=0)
    now = timezone.now()
    fill(now)
    config = replace(
        parse_configuration({}),
        abandoned_recovery_url="https://shop.example.com/cart/{token}",
    )
    baseline, open_count = timed(
        lambda: CartState.objects.filter(completed_at__isnull=True).exclude(email="").count()
    )
    find, found = timed(lambda: due(now, config))
    first, created = timed(lambda: create_due(now, config))
    second, again = timed(lambda: create_due(now, config))
    print(f"{CHECKOUTS:,} checkouts in the mirror, {open_count:,} open with an email")
    print(f"  baseline: count open carts              {baseline * 1000:8.1f} ms")
    print(f"  find due steps ({len(found):,} due)          {find * 1000:8.1f} ms")
    print(f"  first scan: create {len(created):,} rows       {first * 1000:8.1f} ms")
    print(f"  next scan: nothing new ({len(again)} rows)      {second * 1000:8.1f} ms")
    print(f"  first scan / baseline                  {first / baseline:8.1f}x")
    return 0 if first < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
