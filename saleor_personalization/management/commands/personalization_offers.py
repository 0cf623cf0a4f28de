from django.core.management.base import BaseCommand

from ...offers.report import offer_report
from ...services.offers import issue_offers


class Command(BaseCommand):
    help = (
        "Report segment offers per campaign (issued, redeemed, revenue per customer with the "
        "offer and in the holdout); --issue first issues codes to new segment members."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issue", action="store_true", help="issue offers before reporting")

    def handle(self, *args, issue, **options):
        if issue:
            result = issue_offers()
            if result.skipped_reason:
                self.stderr.write(f"offers not issued: {result.skipped_reason}")
            for campaign, count in result.issued.items():
                held = result.held_out.get(campaign, 0)
                self.stdout.write(f"issued {campaign}: {count:,} codes, {held:,} held out")
            for campaign, reason in result.skipped.items():
                self.stdout.write(f"skipped {campaign}: {reason}")
        rows = offer_report()
        if not rows:
            self.stdout.write(
                "No offers yet. Target a voucher at a segment with the metadata key "
                "'personalization.segment' (see README, 'Segment offers')."
            )
            return
        header = (
            f"{'campaign':<16} {'segment':<24} {'issued':>7} {'redeemed':>8} "
            f"{'holdout':>7} {'rev/offer':>10} {'rev/holdout':>11} {'uplift':>8}"
        )
        self.stdout.write(header)
        for r in rows:
            self.stdout.write(
                f"{r.campaign:<16} {r.segment_key:<24} {r.issued:>7,} {r.redeemed:>8,} "
                f"{r.held_out:>7,} {r.revenue_with_offer:>10,.2f} {r.revenue_holdout:>11,.2f} "
                f"{r.uplift:>8,.2f}"
            )
