"""0003_identity: addresses become keyed hashes and unproven email merges are dropped."""

import hashlib
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from saleor_personalization.events.identity import address_digest, email_identity

APP = "saleor_personalization"
BEFORE = [(APP, "0002_email")]
AFTER = [(APP, "0003_identity")]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def _legacy(address):
    return "e:" + hashlib.sha256(address.encode()).hexdigest()[:40]


@pytest.mark.django_db(transaction=True)
def test_addresses_are_hashed_and_email_ids_rekeyed():
    old = _migrate(BEFORE)
    try:
        old.get_model(APP, "CustomerProfile").objects.create(customer_id=1, email="Ann@Example.com")
        carts = old.get_model(APP, "CartState")
        carts.objects.create(token="open", email="guest@example.com")
        carts.objects.create(token="done", email="done@example.com", completed_at=T0)
        interactions = old.get_model(APP, "Interaction")
        for key, address in (("a", "ann@example.com"), ("g", "guest@example.com")):
            interactions.objects.create(
                anonymous_id=_legacy(address),
                product_id=1,
                kind="purchase",
                occurred_at=T0,
                source_key=key,
            )
        old.get_model(APP, "AnonymousIdentity").objects.create(
            anonymous_id=_legacy("ann@example.com"), customer_id=1
        )

        new = _migrate(AFTER)

        profile = new.get_model(APP, "CustomerProfile").objects.get(customer_id=1)
        assert profile.email_digest == address_digest("ann@example.com")
        rekeyed = dict(
            new.get_model(APP, "Interaction").objects.values_list("source_key", "anonymous_id")
        )
        assert rekeyed == {
            "a": email_identity("ann@example.com"),
            "g": email_identity("guest@example.com"),
        }
        assert not new.get_model(APP, "AnonymousIdentity").objects.exists()
        emails = dict(new.get_model(APP, "CartState").objects.values_list("token", "email"))
        assert emails == {"open": "guest@example.com", "done": ""}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes(APP))
