from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...emails.render import TemplateError, render_email
from ...emails.sequence import create_due, due, refusal
from ...saleor_adapter.configuration import load_configuration
from ...saleor_adapter.db import allow_writer
from ...saleor_adapter.email_content import email_source
from ...tasks.emails import send_abandoned_email_task


class Command(BaseCommand):
    help = (
        "Send the abandoned-checkout emails that are due now (what the beat task does), or "
        "with --dry-run list them with their subjects and send nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="show, do not send")

    def handle(self, *args, dry_run, **options):
        config, active = load_configuration()
        if not (active and config.abandoned_emails_enabled):
            raise CommandError(
                "Abandoned-checkout emails are switched off (Dashboard: 'Send abandoned-"
                "checkout emails'; standalone: PERSONALIZATION_CONFIGURATION)."
            )
        if not config.abandoned_recovery_url:
            raise CommandError("Set the 'Checkout recovery URL' first: emails link to it.")
        now = timezone.now()
        if dry_run:
            self._dry_run(now, config)
            return
        with allow_writer():
            created = create_due(now, config)
        results: dict[str, int] = {}
        for email_id in created:
            status = send_abandoned_email_task.apply(args=[email_id]).get()
            results[status] = results.get(status, 0) + 1
        self.stdout.write(
            f"due {len(created):,}; " + ", ".join(f"{k} {v:,}" for k, v in results.items())
        )

    def _dry_run(self, now, config):
        source = email_source()
        shop = source.shop()
        rows = due(now, config)
        if not rows:
            self.stdout.write("Nothing is due.")
            return
        for item in rows:
            blocked = refusal(item.email, item.customer_id, config)
            content = source.content(item.token)
            if blocked or content is None:
                reason = blocked or "checkout no longer exists"
                self.stdout.write(f"{item.token}  step {item.step}  {item.email}  SKIP: {reason}")
                continue
            try:
                rendered = render_email(
                    content=content,
                    step=item.step,
                    email_id=0,
                    config=config,
                    shop=shop,
                    recommendations=[],
                )
            except TemplateError as error:
                raise CommandError(f"The Dashboard's email template is broken: {error}") from None
            self.stdout.write(
                f"{item.token}  step {item.step}  {item.email}  {len(content.lines)} lines  "
                f"{rendered.subject}"
            )
