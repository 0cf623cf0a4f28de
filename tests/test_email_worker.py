"""1,000 abandoned checkouts, a real worker, duplicate scans and forced retries: each once."""

import json
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from saleor_personalization.events.identity import address_digest
from saleor_personalization.models import (
    AbandonedEmail,
    CartState,
    CustomerProfile,
    EmailStatus,
    ItemChannel,
    ItemProfile,
)

from .smtp import smtp_server
from .worker import celery_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

CHECKOUTS = 1000


def _shop():
    item = ItemProfile.objects.create(product_id=1, name="Mug", price_amount=5, currency="EUR")
    ItemChannel.objects.create(item=item, channel="c", price_amount=5, currency="EUR")
    now = timezone.now()
    CustomerProfile.objects.bulk_create(
        CustomerProfile(
            customer_id=k,
            marketing_consent=True,
            email_digest=address_digest(f"s{k}@example.com"),
        )
        for k in range(1, CHECKOUTS + 1)
    )
    CartState.objects.bulk_create(
        CartState(
            token=f"t{k}",
            channel="c",
            customer_id=k,
            email=f"s{k}@example.com",
            lines={"v1": [1, 1]},
            last_change_at=now - timedelta(hours=2),
        )
        for k in range(1, CHECKOUTS + 1)
    )


def test_every_due_email_is_sent_exactly_once(tmp_path):
    _shop()
    # Every seventh recipient's first delivery attempt is refused (451): the task retries.
    flaky = {f"s{k}@example.com" for k in range(7, CHECKOUTS + 1, 7)}
    with smtp_server(fail_first=lambda address: address in flaky) as (mailbox, port):
        settings = {
            "emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
            "emailsRequireConsent": True,
            "emailsSmtpHost": "127.0.0.1",
            "emailsSmtpPort": port,
            "emailsSmtpSecurity": "none",
        }
        env = {
            "PERSONALIZATION_CONFIGURATION": json.dumps(settings),
            "PERSONALIZATION_EMAIL_RETRY_SECONDS": "1",
        }
        with celery_worker(tmp_path, concurrency=2, env=env) as client:
            scans = [
                client.send_task(
                    "saleor_personalization.scan_abandoned_checkouts", kwargs={"force": True}
                )
                for _ in range(3)
            ]
            results = [scan.get(timeout=300) for scan in scans]
            assert sum(r["created"] for r in results) == CHECKOUTS
            # Duplicate deliveries of every send task, as a broker redelivery would cause.
            for email_id in AbandonedEmail.objects.values_list("pk", flat=True):
                client.send_task("saleor_personalization.send_abandoned_email", args=[email_id])
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                pending = AbandonedEmail.objects.exclude(status=EmailStatus.SENT).count()
                if not pending and len(mailbox.messages) >= CHECKOUTS:
                    break
                time.sleep(1)
            time.sleep(3)  # let any stray duplicate arrive before counting
        received = Counter(str(m["To"]) for m in mailbox.messages)
    assert len(mailbox.refused) == len(flaky)  # the retries really happened
    assert AbandonedEmail.objects.count() == CHECKOUTS
    assert AbandonedEmail.objects.filter(status=EmailStatus.SENT).count() == CHECKOUTS
    duplicates = [address for address, count in received.items() if count > 1]
    missing = {f"s{k}@example.com" for k in range(1, CHECKOUTS + 1)} - set(received)
    assert duplicates == []
    assert missing == set()
