from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...emails.delivery import compose, content_refusal
from ...emails.render import TemplateError
from ...emails.sequence import due
from ...models import AbandonedEmail, EmailStatus
from ...services.abandoned import scan
from ...shop import get_shop
from ...tasks.emails import send_abandoned_email_task

SUMMARY_LABELS = {
    EmailStatus.SENT: "Sent",
    EmailStatus.SKIPPED: "Not sent (stopped or not allowed)",
    EmailStatus.FAILED: "Failed",
}


def _steps(config) -> str:
    return ", ".join(str(hours) for hours in config.abandoned_step_hours)


def _by_step(steps: list[int]) -> str:
    return ", ".join(f"step {step}: {count}" for step, count in sorted(Counter(steps).items()))


class Command(BaseCommand):
    help = (
        "Send the abandoned-checkout emails that are due now (what the beat task does), or "
        "with --dry-run list them with the subjects they would be sent with and send nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="show, do not send")

    def handle(self, *args, dry_run, **options):
        config, active = get_shop().configuration.load()
        if not active:
            raise CommandError("The personalization plugin is not active.")
        if not config.abandoned_recovery_url:
            raise CommandError(
                "Abandoned-checkout emails are off: fill in 'Emails · Checkout recovery URL' "
                "(standalone: emailsRecoveryUrl in PERSONALIZATION_CONFIGURATION) to start them."
            )
        if not config.abandoned_emails_enabled:
            raise CommandError(
                "Abandoned-checkout emails are paused: 'Emails · Delivery' is none (set smtp, "
                "app or smtp+app)."
            )
        source = get_shop().mail.checkouts()
        for warning in source.shop().warnings:
            self.stderr.write(f"Warning: {warning}")
        now = timezone.now()
        if dry_run:
            self._dry_run(now, config, source)
            return
        # What is due before the scan, as the dry run lists it: the scan creates rows
        # only for the allowed ones, and the summary must also count those it refused
        # (no consent, unsubscribed), or it would not agree with the dry run.
        listed = due(now, config)
        # The scan the beat task runs (its lock, its stale-pending requeue), sending
        # in this process so the summary below is final.
        result = scan(force=True, now=now, send=None)
        if result.skipped_reason:
            raise CommandError(f"Not scanned: {result.skipped_reason}.")
        created = [*result.created, *result.requeued]
        made = set(
            AbandonedEmail.objects.filter(pk__in=created).values_list("checkout_token", "step")
        )
        refused = []
        for item in listed:
            if (item.token, item.step) not in made:
                reason = content_refusal(source.content(item.token), config)
                refused.append((item.step, EmailStatus.SKIPPED, reason or "not created"))
        if not created and not refused:
            self.stdout.write(
                "Nothing is due: no open checkout with an email address and consent has been "
                f"idle past its next step (steps at {_steps(config)} hours)."
            )
            return
        for email_id in created:
            send_abandoned_email_task.apply(args=[email_id]).get()
        rows = list(
            AbandonedEmail.objects.filter(pk__in=created).values_list("step", "status", "error")
        )
        rows += refused
        self.stdout.write(f"{len(rows):,} emails due ({_by_step([r[0] for r in rows])}).")
        for status, label in SUMMARY_LABELS.items():
            reasons = Counter(error for _, row_status, error in rows if row_status == status)
            count = sum(reasons.values())
            line = f"{label}: {count:,}"
            details = [f"{reason}: {n:,}" for reason, n in reasons.most_common() if reason]
            if details:
                line += " (" + "; ".join(details) + ")"
            self.stdout.write(line)
        pending = sum(1 for _, status, _ in rows if status == EmailStatus.PENDING)
        if pending:
            self.stdout.write(f"Still pending, to be retried by the worker: {pending:,}")

    def _dry_run(self, now, config, source):
        rows = due(now, config)
        if not rows:
            self.stdout.write(
                f"Nothing is due (steps at {_steps(config)} hours idle). Nothing was sent."
            )
            return
        would_send = 0
        for item in rows:
            content = source.content(item.token)
            reason = content_refusal(content, config)
            address = content.email if content is not None else item.email
            if reason:
                self.stdout.write(f"{item.token}  step {item.step}  {address}  SKIP: {reason}")
                continue
            try:
                composed = compose(
                    step=item.step,
                    email_id=0,
                    content=content,
                    config=config,
                    source=source,
                    now=now,
                )
            except TemplateError as error:
                raise CommandError(f"The Dashboard's email template is broken: {error}") from None
            would_send += 1
            extras = []
            if composed.recommendations:
                extras.append(f"{len(composed.recommendations)} picks")
            if composed.offer:
                extras.append("personal code")
            self.stdout.write(
                f"{item.token}  step {item.step}  {address}  {len(content.lines)} lines"
                f"{'  ' + ', '.join(extras) if extras else ''}  {composed.rendered.subject}"
            )
        self.stdout.write(
            f"Dry run: {would_send:,} of {len(rows):,} due emails would be sent "
            f"({_by_step([item.step for item in rows])}). Nothing was sent."
        )
