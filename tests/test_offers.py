"""Segment offers without Saleor: issuing, guardrails, holdout, expiry, ownership, report."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from saleor_personalization.configuration import PersonalizationConfig
from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    Segment,
    SegmentMembership,
    SegmentOffer,
)
from saleor_personalization.offers.campaigns import Campaign, guardrail_refusal
from saleor_personalization.offers.issuing import in_holdout, issue_offers, new_code
from saleor_personalization.offers.redemption import check_code, mark_redeemed
from saleor_personalization.offers.report import offer_report

pytestmark = pytest.mark.django_db

NOW = timezone.now()


class RecordingCodes:
    """The code store as a plain list: what issuing asked the shop to create."""

    def __init__(self):
        self.created: dict[str, int] = {}
        self.inactive: set[str] = set()

    def create(self, voucher_id, codes):
        for code in codes:
            assert code not in self.created
            self.created[code] = voucher_id

    def deactivate(self, codes):
        self.inactive.update(codes)

    def delete_unused(self, codes):
        removed = [c for c in codes if self.created.pop(c, None) is not None]
        return len(removed)


def campaign(key="voucher:1", segment="lapsed", kind="percentage", value="10", **extra):
    return Campaign(
        key=key,
        segment_key=segment,
        voucher_id=1,
        voucher_name="Come back",
        discount_type=kind,
        discount_values={"USD": Decimal(value)},
        **extra,
    )


@pytest.fixture
def members():
    segment = Segment.objects.create(key="lapsed", name="Lapsed")
    other = Segment.objects.create(key="repeat-buyers", name="Repeat buyers")
    for customer_id in range(1, 201):
        CustomerProfile.objects.create(customer_id=customer_id)
        SegmentMembership.objects.create(segment=segment, customer_id=customer_id, entered_at=NOW)
    SegmentMembership.objects.create(segment=other, customer_id=500, entered_at=NOW)
    return segment


def test_members_get_unique_codes_and_a_stable_holdout(members):
    codes = RecordingCodes()
    config = PersonalizationConfig(offer_holdout_percent=10)
    report = issue_offers([campaign()], config, NOW, codes)
    offers = SegmentOffer.objects.filter(campaign="voucher:1")
    assert offers.count() == 200
    assert 500 not in set(offers.values_list("customer_id", flat=True))  # not a member
    held = offers.filter(holdout=True)
    assert report.held_out["voucher:1"] == held.count()
    assert 8 <= held.count() <= 35  # about a tenth of 200
    assert report.issued["voucher:1"] == 200 - held.count()
    assert set(codes.created) == set(offers.filter(holdout=False).values_list("code", flat=True))
    assert all(in_holdout("voucher:1", o.customer_id, 10) for o in held)
    # Issuing is idempotent: open offers are never doubled.
    again = issue_offers([campaign()], config, NOW, codes)
    assert again.issued["voucher:1"] == 0
    assert SegmentOffer.objects.count() == 200


def test_codes_are_long_random_and_distinct():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code.replace("-", "")) == 20 for code in codes)


def test_the_database_refuses_a_second_open_offer(members):
    SegmentOffer.objects.create(
        campaign="c",
        segment_key="lapsed",
        voucher_id=1,
        customer_id=1,
        code="A",
        issued_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentOffer.objects.create(
            campaign="c",
            segment_key="lapsed",
            voucher_id=1,
            customer_id=1,
            code="B",
            issued_at=NOW,
            expires_at=NOW + timedelta(days=1),
        )


@pytest.mark.parametrize(
    ("offer", "refusal"),
    [
        (campaign(value="50"), "50% is more than the maximum offer of 30%"),
        (campaign(kind="fixed", value="80"), "80 off is more than the maximum offer of 50.0"),
        (campaign(active=False), "the voucher is not active"),
        (campaign(value="30"), ""),
        (campaign(kind="fixed", value="20"), ""),
    ],
)
def test_guardrails_stop_too_generous_or_inactive_vouchers(offer, refusal):
    assert guardrail_refusal(offer, PersonalizationConfig()) == refusal


def test_a_refused_campaign_issues_nothing(members):
    report = issue_offers([campaign(value="60")], PersonalizationConfig(), NOW, RecordingCodes())
    assert "maximum offer" in report.skipped["voucher:1"]
    assert not SegmentOffer.objects.exists()


def test_frequency_cap_across_campaigns(members):
    codes = RecordingCodes()
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=30)
    issue_offers([campaign()], config, NOW, codes)
    report = issue_offers([campaign(key="voucher:2")], config, NOW + timedelta(days=1), codes)
    assert report.issued["voucher:2"] == 0
    later = issue_offers([campaign(key="voucher:2")], config, NOW + timedelta(days=31), codes)
    assert later.issued["voucher:2"] == 200


def test_expired_offers_close_their_codes_and_a_new_round_starts(members):
    codes = RecordingCodes()
    config = PersonalizationConfig(
        offer_holdout_percent=0, offer_validity_days=7, offer_frequency_days=0
    )
    issue_offers([campaign()], config, NOW, codes)
    first = set(codes.created)
    report = issue_offers([campaign()], config, NOW + timedelta(days=8), codes)
    assert report.closed == 200
    assert codes.inactive == first
    assert report.issued["voucher:1"] == 200
    assert SegmentOffer.objects.filter(closed_at__isnull=True).count() == 200


def test_offer_expiry_follows_the_voucher_end_date(members):
    ends = NOW + timedelta(days=2)
    issue_offers([campaign(ends_at=ends)], PersonalizationConfig(), NOW, RecordingCodes())
    assert set(SegmentOffer.objects.values_list("expires_at", flat=True)) == {ends}


def test_a_code_is_only_for_its_customer_and_only_once(members):
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=0), NOW, RecordingCodes()
    )
    offer = SegmentOffer.objects.get(customer_id=7)
    # Inside Saleor issuing reads the owner's address from the account; standalone
    # has no accounts, so the test gives the offer its owner's address.
    SegmentOffer.objects.filter(pk=offer.pk).update(email="c7@example.com")
    assert check_code(offer.code, 7, "", NOW).refusal == ""
    assert check_code(offer.code, None, "C7@example.com", NOW).refusal == ""  # guest, same email
    assert "another customer" in check_code(offer.code, 8, "c8@example.com", NOW).refusal
    assert "another customer" in check_code(offer.code, None, "", NOW).refusal
    assert check_code("SOME-OTHER-CODE", 8, "", NOW).ours is False
    assert mark_redeemed(offer.code, "order-1", NOW) is True
    assert mark_redeemed(offer.code, "order-2", NOW) is False
    assert "already been used" in check_code(offer.code, 7, "", NOW).refusal
    late = SegmentOffer.objects.get(customer_id=9)
    assert "expired" in check_code(late.code, 9, "", late.expires_at + timedelta(seconds=1)).refusal


def test_report_compares_revenue_with_the_holdout(members):
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=50), NOW, RecordingCodes()
    )
    treated = SegmentOffer.objects.filter(holdout=False).order_by("customer_id").first()
    held = SegmentOffer.objects.filter(holdout=True).order_by("customer_id").first()
    for customer_id, amount in ((treated.customer_id, "40"), (held.customer_id, "10")):
        Interaction.objects.create(
            customer_id=customer_id,
            product_id=1,
            kind=InteractionKind.PURCHASE,
            quantity=1,
            unit_price=Decimal(amount),
            occurred_at=NOW + timedelta(days=1),
            source_key=f"o{customer_id}",
        )
    mark_redeemed(treated.code, "o", NOW + timedelta(days=1))
    (row,) = offer_report()
    assert row.issued + row.held_out == 200
    assert row.redeemed == 1
    assert row.revenue_with_offer == (Decimal(40) / row.issued).quantize(Decimal("0.01"))
    assert row.revenue_holdout == (Decimal(10) / row.held_out).quantize(Decimal("0.01"))
    assert row.uplift == row.revenue_with_offer - row.revenue_holdout


def test_erasure_removes_offers(members):
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=0), NOW, RecordingCodes()
    )
    report = erase_customer(3)
    assert report.deleted["offers"] == 1
    assert not SegmentOffer.objects.filter(customer_id=3).exists()
    assert SegmentOffer.objects.count() == 199


def test_offers_command_reports_per_campaign(members, capsys):
    from django.core.management import call_command

    call_command("personalization_offers")
    assert "No offers yet" in capsys.readouterr().out
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=10), NOW, RecordingCodes()
    )
    call_command("personalization_offers")
    out = capsys.readouterr().out
    assert "voucher:1" in out
    assert "lapsed" in out


def test_live_offer_is_the_api_for_other_features(members):
    from saleor_personalization.offers.campaigns import ABANDONER
    from saleor_personalization.offers.redemption import live_offer

    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign(key=ABANDONER)], config, NOW, RecordingCodes())
    offer = live_offer(5, NOW, campaign=ABANDONER)
    assert offer.code == SegmentOffer.objects.get(customer_id=5).code
    assert live_offer(5, NOW, campaign="winback") is None
    assert live_offer(999, NOW) is None
    mark_redeemed(offer.code, "o", NOW)
    assert live_offer(5, NOW) is None
    assert live_offer(6, NOW + timedelta(days=30)) is None  # expired
