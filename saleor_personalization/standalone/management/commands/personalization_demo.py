from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ....conf import get_settings
from ...datasets import find_online_retail, missing_dataset_message
from ...demo import DemoContext, run_demo
from ...order_export import OrderExportError


class Command(BaseCommand):
    help = (
        "Run the whole pipeline on a real order export (the Online Retail dataset in the "
        "repository by default) in the standalone database and print a short report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=None, help="order export to use")
        parser.add_argument("--output-dir", type=Path, default=None, help="where files go")

    def handle(self, *args, data, output_dir, **options):
        dataset = data or find_online_retail()
        if dataset is None:
            raise CommandError(missing_dataset_message())
        output_dir = output_dir or Path(getattr(settings, "HOME", Path.cwd())) / "demo-output"
        output_dir.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0, interactive=False)
        ctx = DemoContext(
            dataset=dataset,
            channel=get_settings().default_channel,
            out=self.stdout,
            output_dir=output_dir,
        )
        try:
            run_demo(ctx)
        except OrderExportError as exc:
            raise CommandError(str(exc)) from None
