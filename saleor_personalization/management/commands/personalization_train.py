import json

from django.core.management.base import BaseCommand, CommandError

from ...recommender.model import InvalidParameters
from ...recommender.pipeline import score_lists, start_run, train_run
from ...recommender.report import run_summary


class Command(BaseCommand):
    help = (
        "Train a model on the interaction log, evaluate it on a temporal holdout, promote it "
        "if it is not worse than popularity and the live model, then precompute lists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--params",
            default="{}",
            help='JSON parameters, e.g. \'{"epochs": 20, "components": 64, "holdout_weeks": 4}\'',
        )
        parser.add_argument("--no-score", action="store_true", help="do not precompute lists")

    def handle(self, *args, params, no_score, **options):
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise CommandError("--params must be a JSON object")
        try:
            run = start_run(parsed)
        except InvalidParameters as exc:
            raise CommandError(f"invalid parameters: {exc}") from None
        run = train_run(run)
        for line in run_summary(run):
            self.stdout.write(line)
        if run.status == "failed":
            raise CommandError(f"training failed: {run.error}")
        if run.is_live and not no_score:
            written = score_lists()
            self.stdout.write("lists written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
