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
from saleor_personalization.offers.redemption import (
    CLAIM_HOLD,
    claim_code,
    owner_hash,
    record_order,
)
from saleor_personalization.offers.report import offer_report

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def claim(code, customer_id, email="", token="t1", now=NOW, order_exists=lambda token: False):
    """Claim inside a transaction, as the plugin's savepoint does in Saleor's."""
    with transaction.atomic():
        return claim_code(code, customer_id, email, token, now, order_exists)


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

    # The shop's side: codes it applies, and orders made with them.
    orders: dict[str, tuple[str, object]]

    def accepted(self, codes, now):
        return {c for c in codes if c in self.created and c not in self.inactive}

    def uses(self, codes):
        from saleor_personalization.offers.campaigns import CodeUse

        wanted = set(codes)
        return [
            CodeUse(code, ref, at)
            for code, (ref, at) in getattr(self, "orders", {}).items()
            if code in wanted
        ]

    def sell(self, code, order_ref, at):
        """An order the shop made with ``code`` without the plugin (single use: off)."""
        self.orders = {**getattr(self, "orders", {}), code: (order_ref, at)}
        self.inactive.add(code)


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
        (campaign(kind="fixed", value="80"), "80 off is more than the maximum offer of 50"),
        # As Saleor stores them: written as an admin would, without trailing zeros.
        (campaign(value="40.000"), "40% is more than the maximum offer of 30%"),
        (campaign(kind="fixed", value="500.000"), "500 off is more than the maximum offer of 50"),
        (campaign(kind="fixed", value="62.500"), "62.5 off is more than the maximum offer of 50"),
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


def test_expired_offers_close_their_codes_and_nobody_gets_a_second_one(members):
    """One code per customer per campaign voucher, ever (frequency cap 0 included)."""
    codes = RecordingCodes()
    config = PersonalizationConfig(
        offer_holdout_percent=0, offer_validity_days=7, offer_frequency_days=0
    )
    issue_offers([campaign()], config, NOW, codes)
    first = set(codes.created)
    report = issue_offers([campaign()], config, NOW + timedelta(days=8), codes)
    assert report.closed == 200
    assert codes.inactive == first
    assert report.issued["voucher:1"] == 0
    assert SegmentOffer.objects.count() == 200
    # A new voucher for the same automation is a new round.
    renewed = Campaign(**{**campaign(key="winback").__dict__, "voucher_id": 2})
    issue_offers([campaign(key="winback")], config, NOW, codes)
    assert issue_offers([renewed], config, NOW, codes).issued["winback"] == 0  # still open
    later = NOW + timedelta(days=8)
    assert issue_offers([renewed], config, later, codes).issued["winback"] == 200


def test_a_redeemer_gets_no_second_code_on_the_next_run(members):
    codes = RecordingCodes()
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign()], config, NOW, codes)
    offer = SegmentOffer.objects.get(customer_id=4)
    assert claim(offer.code, 4).refusal == ""
    record_order(offer.code, "t1", "order-4", NOW)
    assert issue_offers([campaign()], config, NOW + timedelta(days=1), codes).issued == {
        "voucher:1": 0
    }
    assert SegmentOffer.objects.filter(customer_id=4).count() == 1


def test_offer_expiry_follows_the_voucher_end_date(members):
    ends = NOW + timedelta(days=2)
    issue_offers([campaign(ends_at=ends)], PersonalizationConfig(), NOW, RecordingCodes())
    assert set(SegmentOffer.objects.values_list("expires_at", flat=True)) == {ends}


def test_a_code_is_only_for_its_customer_and_only_once(members):
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=0), NOW, RecordingCodes()
    )
    offer = SegmentOffer.objects.get(customer_id=7)
    assert not hasattr(offer, "email")  # no plain address kept
    # Inside Saleor issuing hashes the owner's address read from the account; standalone
    # has no accounts, so the test gives the offer its owner's hash.
    SegmentOffer.objects.filter(pk=offer.pk).update(email_hash=owner_hash("c7@example.com"))
    assert "another customer" in claim(offer.code, 8, "c8@example.com").refusal
    assert "another customer" in claim(offer.code, None, "").refusal
    # A signed-in customer typing the owner's address is still not the owner.
    assert "another customer" in claim(offer.code, 8, "c7@example.com").refusal
    assert claim("SOME-OTHER-CODE", 8).ours is False
    assert claim(offer.code, None, "C7@example.com", token="guest").refusal == ""  # guest
    assert claim(offer.code, None, "C7@example.com", token="guest").refusal == ""  # its retry
    assert "already been used" in claim(offer.code, 7, token="t2").refusal
    assert record_order(offer.code, "guest", "order-1", NOW) is True
    assert SegmentOffer.objects.get(pk=offer.pk).order_ref == "order-1"
    assert "already been used" in claim(offer.code, 7, token="t3").refusal
    late = SegmentOffer.objects.get(customer_id=9)
    expired = claim(late.code, 9, now=late.expires_at + timedelta(seconds=1))
    assert "expired" in expired.refusal


def test_a_claim_whose_order_never_came_is_released(members):
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=0), NOW, RecordingCodes()
    )
    code = SegmentOffer.objects.get(customer_id=7).code
    assert claim(code, 7, token="failed").refusal == ""
    later = NOW + CLAIM_HOLD + timedelta(seconds=1)
    # The first checkout did get its order: the code stays used.
    assert "already" in claim(code, 7, token="new", now=later, order_exists=lambda t: True).refusal
    # It did not: the code is the customer's again.
    assert claim(code, 7, token="new", now=later).refusal == ""
    assert SegmentOffer.objects.get(code=code).order_ref == "checkout:new"


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
    record_order(treated.code, None, "o", NOW + timedelta(days=1))
    (row,) = offer_report()
    assert row.issued + row.held_out == 200
    assert row.redeemed == 1
    assert row.revenue_with_offer == (Decimal(40) / row.issued).quantize(Decimal("0.01"))
    assert row.revenue_holdout == (Decimal(10) / row.held_out).quantize(Decimal("0.01"))
    assert row.uplift == row.revenue_with_offer - row.revenue_holdout


def test_report_counts_every_offer_window_of_a_customer(members):
    """A second offer (a new voucher round) must not hide what the first one brought."""
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign(key="winback")], config, NOW, RecordingCodes())
    first = SegmentOffer.objects.get(customer_id=3)
    bought = NOW + timedelta(hours=2)
    Interaction.objects.create(
        customer_id=3,
        product_id=1,
        kind=InteractionKind.PURCHASE,
        quantity=1,
        unit_price=Decimal("219"),
        occurred_at=bought,
        source_key="o3",
    )
    record_order(first.code, None, "o3", bought)
    renewed = Campaign(**{**campaign(key="winback").__dict__, "voucher_id": 2})
    issue_offers([renewed], config, NOW + timedelta(days=1), RecordingCodes())  # first closed
    assert SegmentOffer.objects.filter(customer_id=3).count() == 2
    (row,) = offer_report()
    assert row.redeemed == 1
    assert row.revenue_with_offer == (Decimal(219) / row.issued).quantize(Decimal("0.01"))


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
    assert claim(offer.code, 5).refusal == ""  # claimed by a checkout: no longer offered
    assert live_offer(5, NOW) is None
    assert live_offer(6, NOW + timedelta(days=30)) is None  # expired


def test_the_voucher_status_says_what_targeting_did(members):
    from saleor_personalization.offers.status import campaign_summary, status_text

    unknown = status_text(campaign_summary("voucher:1", "rfm-at-risk"), ["SUMMER"])
    assert unknown.startswith("unknown segment 'rfm-at-risk'; known: lapsed, repeat-buyers")
    assert "shared code(s) SUMMER switched off" in unknown
    Segment.objects.create(key="empty", name="Empty")
    empty = status_text(campaign_summary("voucher:1", "empty"), [])
    assert empty.startswith("segment 'empty' has no members: no codes issued")
    refused = status_text(campaign_summary("voucher:1", "lapsed"), [], refusal="too generous")
    assert refused.startswith("200 members, 0 codes issued (0 held out, 0 redeemed)")
    assert "not issuing: too generous" in refused
    issue_offers(
        [campaign()], PersonalizationConfig(offer_holdout_percent=10), NOW, RecordingCodes()
    )
    summary = campaign_summary("voucher:1", "lapsed")
    assert summary.issued + summary.held_out == 200
    assert status_text(summary, []).startswith(f"200 members, {summary.issued} codes issued")
    many = status_text(summary, [f"C{i}" for i in range(6)])
    assert "C0, C1, C2, C3, C4 and more switched off" in many
    assert "without a code" not in status_text(summary, [])


def test_the_voucher_status_counts_members_the_frequency_cap_skipped(members):
    from saleor_personalization.offers.status import campaign_summary, status_text

    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=30)
    issue_offers([campaign()], config, NOW, RecordingCodes())
    # A second campaign on the same segment: everyone got a code a moment ago.
    SegmentOffer.objects.filter(customer_id__gt=150).delete()
    issue_offers([campaign(key="voucher:2")], config, NOW, RecordingCodes())
    summary = campaign_summary("voucher:2", "lapsed", frequency_days=30, now=NOW)
    assert (summary.members, summary.issued, summary.without_code) == (200, 50, 150)
    assert summary.capped == 150
    text = status_text(summary, [])
    assert text.startswith("200 members, 50 codes issued (0 held out, 0 redeemed); 150 members")
    assert (
        "150 members without a code: 150 got another campaign's code in the last 30 days "
        "(the offer frequency cap);"
    ) in text
    # New members the next issuing run has not reached are told apart from the capped.
    segment = Segment.objects.get(key="lapsed")
    for customer_id in range(300, 310):
        SegmentMembership.objects.create(segment=segment, customer_id=customer_id, entered_at=NOW)
    summary = campaign_summary("voucher:2", "lapsed", frequency_days=30, now=NOW)
    assert (summary.without_code, summary.capped) == (160, 150)
    assert "160 members without a code: 150 got another campaign's code" in status_text(summary, [])
    assert ", 10 not issued yet;" in status_text(summary, [])
    # Past the window the cap no longer holds anyone back.
    later = campaign_summary("voucher:2", "lapsed", frequency_days=30, now=NOW + timedelta(days=31))
    assert "160 members without a code: 160 not issued yet" in status_text(later, [])


def test_a_code_the_shop_no_longer_takes_is_not_a_live_offer(members):
    from saleor_personalization.offers.redemption import live_offer, live_offers

    codes = RecordingCodes()
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign()], config, NOW, codes)
    code = SegmentOffer.objects.get(customer_id=5).code
    assert [o.code for o in live_offers(5, NOW, codes=codes)] == [code]
    codes.deactivate([code])  # used in the shop, or switched off by an admin
    assert live_offers(5, NOW, codes=codes) == []
    assert live_offer(5, NOW, campaign="voucher:1", codes=codes) is None
    assert live_offer(6, NOW, codes=codes) is not None  # the others' codes still work


def test_redemptions_the_plugin_missed_are_recorded_once(members):
    from saleor_personalization.offers.redemption import catch_up_redemptions, live_offer

    codes = RecordingCodes()
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign()], config, NOW, codes)
    used = SegmentOffer.objects.get(customer_id=5).code
    expired_since = SegmentOffer.objects.get(customer_id=6).code
    sold_at = NOW + timedelta(hours=3)
    codes.sell(used, "order-1", sold_at)
    codes.sell(expired_since, "order-2", sold_at)
    issue_offers([], config, NOW + timedelta(days=60), codes)  # closes 6's offer (and all)
    assert catch_up_redemptions(codes) == 2
    offer = SegmentOffer.objects.get(code=used)
    assert (offer.order_ref, offer.redeemed_at, offer.closed_at) == ("order-1", sold_at, sold_at)
    assert SegmentOffer.objects.get(code=expired_since).order_ref == "order-2"
    assert live_offer(5, NOW, codes=codes) is None
    (report,) = offer_report()
    assert report.redeemed == 2
    assert catch_up_redemptions(codes) == 0  # the next night: nothing new
    assert offer_report()[0].redeemed == 2
    assert SegmentOffer.objects.get(code=used).redeemed_at == sold_at


def test_standalone_the_offer_table_is_the_code_store(members):
    """No shop applies codes: an open offer's code is live, and nothing is caught up."""
    from saleor_personalization.offers.redemption import catch_up_redemptions, live_offer
    from saleor_personalization.shop import get_shop

    assert get_shop().name == "standalone"
    codes = get_shop().vouchers.codes()
    config = PersonalizationConfig(offer_holdout_percent=0, offer_frequency_days=0)
    issue_offers([campaign()], config, NOW, codes)
    code = SegmentOffer.objects.get(customer_id=5).code
    assert live_offer(5, NOW).code == code
    assert catch_up_redemptions(codes) == 0
    assert record_order(code, None, "order-9", NOW)
    assert live_offer(5, NOW) is None
