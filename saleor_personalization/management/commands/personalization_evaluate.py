import json

from django.core.management.base import BaseCommand, CommandError

from ...models import ModelRun
from ...recommender.data import EventRows
from ...recommender.model import InvalidParameters, ModelParams
from ...recommender.report import metrics_table, run_summary
from ...recommender.training import NotEnoughData, train_and_evaluate


class Command(BaseCommand):
    help = (
        "Show a model run's evaluation (default: the live one), or with --params evaluate "
        "those parameters on the current data without storing or promoting anything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--run", type=int, default=None, help="model run id")
        parser.add_argument("--params", default=None, help="JSON parameters to try")

    def handle(self, *args, run, params, **options):
        if params is not None:
            try:
                parsed = ModelParams.from_dict(json.loads(params))
            except (json.JSONDecodeError, InvalidParameters) as exc:
                raise CommandError(f"invalid --params: {exc}") from None
            try:
                outcome = train_and_evaluate(EventRows.from_database(), parsed, final_fit=False)
            except NotEnoughData as exc:
                raise CommandError(f"not enough data: {exc}") from None
            for line in metrics_table(outcome.metrics):
                self.stdout.write(line)
            return
        query = ModelRun.objects.filter(pk=run) if run else ModelRun.objects.filter(is_live=True)
        found = query.first()
        if found is None:
            raise CommandError(f"no model run {run}" if run else "no live model yet; run train")
        for line in run_summary(found):
            self.stdout.write(line)
