"""Database constraints hold on the real database, not only in Python."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from saleor_personalization.models import (
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
    SubjectType,
)

pytestmark = pytest.mark.django_db

WHEN = datetime(2011, 1, 1, tzinfo=UTC)


def _event(**overrides) -> Interaction:
    values = {
        "customer_id": 1,
        "product_id": 10,
        "kind": InteractionKind.VIEW,
        "occurred_at": WHEN,
        "source_key": "test:1",
    }
    values.update(overrides)
    return Interaction(**values)


def _fails(obj) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()


def test_source_key_is_unique():
    _event().save()
    _fails(_event())


def test_bulk_replay_with_ignore_conflicts_inserts_nothing_twice():
    events = [_event(source_key=f"k{i}") for i in range(5)]
    Interaction.objects.bulk_create(events, ignore_conflicts=True)
    Interaction.objects.bulk_create(
        [_event(source_key=f"k{i}") for i in range(7)], ignore_conflicts=True
    )
    assert Interaction.objects.count() == 7


def test_event_needs_a_customer_or_an_anonymous_id():
    _fails(_event(customer_id=None, anonymous_id=""))
    _event(customer_id=None, anonymous_id="anon-1", source_key="anon").save()


def test_quantity_must_be_positive():
    _fails(_event(quantity=0))


def test_kind_must_be_known():
    _fails(_event(kind="teleport"))


def test_only_one_live_model_run():
    ModelRun.objects.create(status=ModelRunStatus.SUCCEEDED, is_live=True)
    ModelRun.objects.create(status=ModelRunStatus.SUCCEEDED, is_live=False)
    _fails(ModelRun(status=ModelRunStatus.SUCCEEDED, is_live=True))


def test_live_model_run_must_have_succeeded():
    _fails(ModelRun(status=ModelRunStatus.FAILED, is_live=True))


def test_recommendation_list_key_is_unique():
    values = {
        "kind": ListKind.PERSONAL,
        "subject_type": SubjectType.CUSTOMER,
        "subject_id": 1,
        "channel": "c",
        "generated_at": WHEN,
    }
    RecommendationList.objects.create(entries=[], **values)
    _fails(RecommendationList(entries=[{"product_id": 1}], **values))
    RecommendationList.objects.create(entries=[], **{**values, "channel": "other"})


def test_recommendation_list_subject_has_one_spelling():
    base = {"kind": ListKind.POPULAR, "channel": "c", "generated_at": WHEN}
    _fails(RecommendationList(subject_type=SubjectType.CUSTOMER, **base))  # no id
    _fails(RecommendationList(subject_type=SubjectType.COUNTRY, **base))  # no country
    _fails(RecommendationList(subject_type=SubjectType.NONE, country="GB", **base))
    _fails(RecommendationList(subject_type=SubjectType.COUNTRY, subject_id=3, country="GB", **base))
    RecommendationList.objects.create(subject_type=SubjectType.COUNTRY, country="GB", **base)
    RecommendationList.objects.create(**base)  # the channel's list for nobody in particular
    _fails(RecommendationList(**base))


def test_item_external_ref_unique_unless_empty():
    ItemProfile.objects.create(product_id=1, name="a", external_ref="SKU-1")
    ItemProfile.objects.create(product_id=2, name="b")
    ItemProfile.objects.create(product_id=3, name="c")
    _fails(ItemProfile(product_id=4, name="d", external_ref="SKU-1"))


def test_item_price_cannot_be_negative():
    _fails(ItemProfile(product_id=1, name="a", price_amount=-1))


def test_item_channel_unique_and_cascades():
    item = ItemProfile.objects.create(product_id=1, name="a")
    ItemChannel.objects.create(item=item, channel="c")
    _fails(ItemChannel(item=item, channel="c"))
    item.delete()
    assert not ItemChannel.objects.exists()
