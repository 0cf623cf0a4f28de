"""Rescoring one customer's lists after an order, on the Online Retail export.

    make benchmark-rescore   # PostgreSQL on 127.0.0.1 (database personalization_rescore)
    .venv/bin/python benchmarks/rescore.py [--customers 200] [--baseline 15] [--retrain]

The export is loaded into the plugin's tables by the standalone importer (once: a
database that holds it already is reused) and a model is fitted on all of it with
``training.fit_model``, as the speed section of ``benchmarks/quality.py`` does, and made
live. Then, for customers drawn at random: an order of two products they never bought
is recorded (``events.recording.record_order``, what the order hook's task calls) and
their two lists are rescored from the live model by ``services.scoring.score_customers``
(what ``rescore_customer`` runs), timed.

The baseline, in the same run on the same orders and database: the path it replaced,
which read every customer's purchases and computed the shop's whole co-purchase link
matrix for each rescoring (``lists.scoring_context`` on ``EventRows.from_database``, the
Online Retail log being purchases only). Both write the same lists; the benchmark
checks they are identical for every baseline customer.

The first rescoring in a process also reads the copy of every customer's purchases
(:class:`~saleor_personalization.recommender.data.PurchaseLog`); it is printed apart.
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")
os.environ.setdefault("PERSONALIZATION_HOME", str(ROOT / ".personalization" / "benchmark-rescore"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/personalization_rescore")

import django  # noqa: E402

django.setup()

from abandoned_scan import ensure_database  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.conf import get_settings  # noqa: E402
from saleor_personalization.events.recording import record_order  # noqa: E402
from saleor_personalization.events.types import LineSnapshot, OrderSnapshot  # noqa: E402
from saleor_personalization.models import (  # noqa: E402
    Interaction,
    InteractionKind,
    ListKind,
    ModelRunStatus,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.recommender.artifact import save_artifact  # noqa: E402
from saleor_personalization.recommender.data import EventRows, clear_purchase_log  # noqa: E402
from saleor_personalization.recommender.lists import (  # noqa: E402
    scoring_context,
    write_personal_lists,
)
from saleor_personalization.recommender.model import ModelParams  # noqa: E402
from saleor_personalization.recommender.pipeline import (  # noqa: E402
    live_model,
    promote,
    start_run,
)
from saleor_personalization.recommender.training import fit_model  # noqa: E402
from saleor_personalization.services.scoring import list_options, score_customers  # noqa: E402
from saleor_personalization.standalone.datasets import find_online_retail  # noqa: E402
from saleor_personalization.standalone.importer import import_order_export  # noqa: E402

ORDER_PREFIX = "rescore-bench"


def load(path: Path) -> None:
    """The export in the plugin's tables, once; statistics for the query planner."""
    if not Interaction.objects.exists():
        clock = time.monotonic()
        report = import_order_export(
            path, channel=get_settings().default_channel, source="online-retail"
        )
        print(
            f"loaded {report.interactions_created:,} purchases in {time.monotonic() - clock:.0f}s"
        )
    if connection.vendor == "postgresql":
        # What autovacuum does after a load; without statistics the planner can scan
        # every purchase where an index finds the few rows asked for.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Interaction._meta.db_table}")


def make_live(retrain: bool):
    loaded = None if retrain else live_model()
    if loaded is not None:
        return loaded
    events = EventRows.from_database()
    clock = time.monotonic()
    model, _ = fit_model(events, events.last_time + timedelta(seconds=1), ModelParams())
    print(f"model fitted on {len(events):,} events in {time.monotonic() - clock:.0f}s")
    run = start_run()
    run.artifact, run.artifact_sha256 = save_artifact(model, run.pk)
    run.status = ModelRunStatus.SUCCEEDED
    run.save()
    promote(run)
    return live_model()


def forget_orders() -> None:
    """The benchmark's own orders out of the log, so every run starts from the export."""
    Interaction.objects.filter(source_key__startswith=f"order:{ORDER_PREFIX}").delete()


def prepared_shop(data: Path | None, retrain: bool):
    """The benchmark database migrated, holding the export without earlier runs' orders,
    and a live model: the setup this benchmark and ``writing.py`` share."""
    path = data or find_online_retail(ROOT)
    if path is None:
        sys.exit("Online Retail dataset not found; pass --data PATH")
    ensure_database()
    call_command("migrate", verbosity=0)
    forget_orders()
    load(path)
    return make_live(retrain)


def place_order(customer: int, products: list[int], number: str) -> None:
    record_order(
        OrderSnapshot(
            order_id=f"{ORDER_PREFIX}-{number}",
            channel=get_settings().default_channel,
            occurred_at=timezone.now(),
            customer_id=customer,
            lines=tuple(LineSnapshot(product_id=p, variant_id=None, quantity=1) for p in products),
        )
    )


def rescore_reading_everything(customer: int, when) -> int:
    """The replaced path: every customer's purchases read, every link computed."""
    run, model = live_model()
    ctx = scoring_context(model, EventRows.from_database(until=when), [customer], when)
    return write_personal_lists(run, ctx, np.arange(1), list_options(), when)


def written(customer: int) -> dict:
    return {
        row.kind: row.ranked()
        for row in RecommendationList.objects.filter(
            kind__in=[ListKind.PERSONAL, ListKind.BUY_AGAIN],
            subject_type=SubjectType.CUSTOMER,
            subject_id=customer,
        )
    }


def timed(function, *args) -> float:
    clock = time.perf_counter()
    function(*args)
    return (time.perf_counter() - clock) * 1000


def summary(label: str, times: list[float]) -> str:
    return (
        f"   {label:<44} median {np.median(times):8.1f} ms   p95 "
        f"{np.percentile(times, 95):8.1f} ms   ({len(times)} customers)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=200, help="rescorings timed")
    parser.add_argument("--baseline", type=int, default=15, help="of them, also the old way")
    parser.add_argument("--retrain", action="store_true", help="fit a new live model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run, model = prepared_shop(args.data, args.retrain)
    rng = np.random.default_rng(args.seed)
    customers = sorted(
        Interaction.objects.filter(customer_id__isnull=False, kind=InteractionKind.PURCHASE)
        .values_list("customer_id", flat=True)
        .distinct()
    )
    chosen = [int(c) for c in rng.choice(customers, args.customers, replace=False)]
    print(
        f"{connection.vendor}: {Interaction.objects.count():,} events, {len(customers):,} "
        f"customers, live model run {run.pk} ({len(model.item_ids):,} products)"
    )

    clear_purchase_log()
    first_customer, *rest = chosen
    place_order(first_customer, [int(model.item_ids[0])], "first")
    cold = timed(score_customers, [first_customer])

    fast, full, differ = [], [], 0
    for k, customer in enumerate(rest):
        owned = set(
            Interaction.objects.filter(customer_id=customer).values_list("product_id", flat=True)
        )
        fresh = [int(p) for p in rng.permutation(model.item_ids) if int(p) not in owned][:2]
        place_order(customer, fresh, str(k))
        when = timezone.now()
        fast.append(timed(score_customers, [customer], None, when))
        if k < args.baseline:
            mine = written(customer)
            full.append(timed(rescore_reading_everything, customer, when))
            differ += written(customer) != mine
    forget_orders()

    print("== rescoring one customer after an order (both lists scored, explained, written)")
    print(summary("this project: own events + purchase copy", fast))
    print(summary("baseline: every purchase read, all links", full))
    ratio = np.median(full) / np.median(fast)
    print(f"   median speed-up over the baseline: {ratio:.0f}x")
    print(f"   first rescoring in a process (reads the purchase copy): {cold:.0f} ms")
    same = len(full) - differ
    print(f"   lists identical to the baseline's: {same} of {len(full)} customers")
    met = np.median(fast) < 200
    print(f"   target: median < 200 ms: {'met' if met else 'NOT met'}")
    return 0 if met and not differ else 1


if __name__ == "__main__":
    sys.exit(main())
