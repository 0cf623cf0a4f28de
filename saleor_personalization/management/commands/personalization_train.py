import json

from django.core.management.base import BaseCommand, CommandError

from ...recommender.model import InvalidParameters
from ...recommender.report import run_summary
from ...services.errors import TrainingBusy
from ...services.training import score_after_training, train


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = (
        "Train a model on the interaction log, evaluate it on a temporal holdout, promote it "
        "if it is not worse than popularity and the live model, then precompute lists (all of "
        "them if it went live, else those of customers whose data changed)."
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
            run = train(params=parsed, score=False)
        except InvalidParameters as exc:
            raise CommandError(f"invalid parameters: {exc}") from None
        except TrainingBusy as exc:
            raise CommandError(f"not started: {exc}") from None
        for line in run_summary(run):
            self.stdout.write(line)
        if not no_score:
            # After any run: everyone when it went live, else customers whose data changed.
            written = score_after_training(run, inline=True)
            self.stdout.write("lists written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
        if run.status == "failed":
            raise CommandError(f"training failed: {run.error}")
