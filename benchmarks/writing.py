"""Writing every customer's personal lists: in one process, and fanned out to Celery workers.

    make benchmark-writing   # PostgreSQL and Redis on 127.0.0.1
    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \
        .venv/bin/python benchmarks/writing.py [--workers 2] [--repeat 3] [--chunk 2000]

The Online Retail export is loaded into the plugin's tables and a model fitted on all of
it is made live, once (``benchmarks/rescore.py`` does the same; a database that holds
them already is reused). Then both lists of every customer (*for you* and *buy again*,
scored, ruled, explained and upserted into PostgreSQL, as of just after the export's last
order) are written two ways, each timed end to end from the first read of a customer's
events to the last row committed:

- **one process**: ``services.scoring.score_customers`` on each chunk of customers in
  turn, here, as one worker process would run the chunks;
- **fanned out**: ``services.scoring.queue_personal_lists``, what ``score_all`` calls
  after a training, queues the chunks for a real Celery worker (Redis broker,
  ``--concurrency`` = ``--workers``) and the benchmark waits for every task's result.

The first fan-out after the worker starts is printed apart: each worker process then
loads the live model and its copy of every customer's purchases, as after a training.
On a shared machine timings move with its load: compare rates of one run. The CPU time
of the one-process runs (this process and the PostgreSQL server process serving it) is
printed too: what two cores doing nothing else would reach at most, whatever the load.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")
os.environ.setdefault("PERSONALIZATION_HOME", str(ROOT / ".personalization" / "benchmark-writing"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/personalization_writing")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ["CELERY_BROKER_URL"])

import django  # noqa: E402

django.setup()

from cpu import database_cpu  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from rescore import prepared_shop  # noqa: E402

from saleor_personalization.models import Interaction, ListKind, RecommendationList  # noqa: E402
from saleor_personalization.services import scoring  # noqa: E402
from saleor_personalization.standalone.celery import app  # noqa: E402


@dataclass(frozen=True)
class Timing:
    """One run in this process: wall time, and the CPU time it took here and in the
    database server process serving it (when it runs on this machine)."""

    seconds: float
    cpu_here: float
    cpu_database: float | None


def one_process(customers: list[int], run_id: int, chunk: int, now: datetime) -> Timing:
    """Every customer's lists written here, chunk after chunk."""
    clock, cpu, database = time.monotonic(), time.process_time(), database_cpu()
    for start in range(0, len(customers), chunk):
        scoring.score_customers(customers[start : start + chunk], run_id, now)
    after = database_cpu()
    return Timing(
        time.monotonic() - clock,
        time.process_time() - cpu,
        None if after is None or database is None else after - database,
    )


def fanned_out(customers: list[int], run_id: int, chunk: int, now: datetime) -> float:
    """Seconds from queuing every chunk to the last chunk's result."""
    clock = time.monotonic()
    results = scoring.queue_personal_lists(customers, run_id, now, chunk)
    written = sum(result.get(timeout=3600) for result in results)
    seconds = time.monotonic() - clock
    if written != len(customers):
        raise RuntimeError(f"the workers wrote {written} customers' lists of {len(customers)}")
    return seconds


def start_worker(concurrency: int, log: Path) -> subprocess.Popen:
    """A Celery worker on the benchmark's broker and database, as a deployment runs one."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "saleor_personalization.standalone.celery"),
            *("worker", "-Q", "celery,personalization", "-c", str(concurrency)),
            *("--without-gossip", "--without-mingle", "-l", "warning"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not app.control.ping(timeout=1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the Celery worker did not start: {log.read_text()[-2000:]}")
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def rate(customers: int, elapsed: float) -> str:
    return f"{elapsed:6.2f} s = {customers / elapsed:6,.0f} customers/s"


def seconds(runs: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in runs) + " s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (concurrency)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each way")
    parser.add_argument("--chunk", type=int, default=scoring.SCORE_CHUNK, help="customers per task")
    parser.add_argument("--retrain", action="store_true", help="fit a new live model")
    args = parser.parse_args()
    run, model = prepared_shop(args.data, args.retrain)
    customers = scoring._all_customers()
    # Lists as of just after the export's last order, as a shop scores after its day's
    # orders: at today's date the export's histories would be 15 years old, decayed to
    # nothing, and no list would say "Because you bought X".
    now = Interaction.objects.aggregate(last=Max("occurred_at"))["last"] + timedelta(seconds=1)
    print(
        f"{connection.vendor}: {len(customers):,} customers, live model run {run.pk} "
        f"({len(model.item_ids):,} products), chunks of {args.chunk:,} customers, "
        f"lists as of {now:%Y-%m-%d %H:%M}"
    )

    clock = time.monotonic()
    scoring.score_customers(customers[:1], run.pk, now)  # loads the purchase copy, as a worker does
    first = time.monotonic() - clock
    home = Path(os.environ["PERSONALIZATION_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    worker = start_worker(args.workers, home / "worker.log")
    try:
        cold = fanned_out(customers, run.pk, args.chunk, now)
        single, fanned = [], []
        for _ in range(args.repeat):
            single.append(one_process(customers, run.pk, args.chunk, now))
            fanned.append(fanned_out(customers, run.pk, args.chunk, now))
    finally:
        stop_worker(worker)
    rows = RecommendationList.objects.filter(kind__in=ListKind.per_customer()).count()

    n = len(customers)
    middle = statistics.median
    print("== both personal lists of every customer scored, ruled, explained and written")
    walls = [timing.seconds for timing in single]
    print(f"   one process, median of {args.repeat}: {rate(n, middle(walls))}")
    print(f"   {args.workers} worker processes, median of {args.repeat}: {rate(n, middle(fanned))}")
    print(f"   {args.workers} worker processes, first run: {rate(n, cold)} (each loads the model)")
    print(f"   runs: one process {seconds(walls)}; workers {seconds(fanned)}")
    here = middle(timing.cpu_here for timing in single)
    used = [timing.cpu_database for timing in single if timing.cpu_database is not None]
    if used:
        cpu = here + middle(used)
        print(
            f"   CPU of one process's run: {here:.2f} s here + {middle(used):.2f} s in the "
            f"database = {cpu / n * 1000:.2f} ms per customer; 2 cores doing nothing else "
            f"would write at most {2 * n / cpu:,.0f} customers/s"
        )
    print(f"   first scoring in this process (reads the purchase copy): {first:.1f} s")
    print(f"   {rows:,} list rows; target >= 5,000 customers/s on 2 cores")


if __name__ == "__main__":
    main()
