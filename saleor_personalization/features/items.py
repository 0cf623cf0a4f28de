"""Item profiles: write what the catalogue says, remove what it no longer has."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ..models import ItemChannel, ItemProfile


@dataclass(frozen=True)
class ItemChannelState:
    channel: str
    is_available: bool
    in_stock: bool
    price_amount: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True)
class ItemFeatures:
    """A product as read from the catalogue (Saleor or an export)."""

    product_id: int
    name: str
    external_ref: str = ""
    category_id: int | None = None
    category_path: tuple[str, ...] = ()
    product_type: str = ""
    attributes: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    price_amount: Decimal | None = None
    currency: str = ""
    created_at: datetime | None = None
    channels: tuple[ItemChannelState, ...] = field(default=())


_PROFILE_FIELDS = (
    "name",
    "category_id",
    "external_ref",
    "category_path",
    "product_type",
    "attributes",
    "collections",
    "price_amount",
    "currency",
    "created_at",
)


def _profile_values(item: ItemFeatures) -> dict:
    return {
        "name": item.name[:250],
        "external_ref": item.external_ref[:255],
        "category_id": item.category_id,
        "category_path": list(item.category_path),
        "product_type": item.product_type[:250],
        "attributes": list(item.attributes),
        "collections": list(item.collections),
        "price_amount": item.price_amount,
        "currency": item.currency,
        "created_at": item.created_at,
    }


def upsert_items(items: Iterable[ItemFeatures]) -> int:
    """Create or update profiles and their channel rows; returns profiles written."""
    items = list(items)
    if not items:
        return 0
    ids = [item.product_id for item in items]
    now = timezone.now()
    with transaction.atomic():
        existing = {p.product_id: p for p in ItemProfile.objects.filter(product_id__in=ids)}
        to_create, to_update = [], []
        for item in items:
            values = _profile_values(item)
            profile = existing.get(item.product_id)
            if profile is None:
                to_create.append(ItemProfile(product_id=item.product_id, **values))
            elif any(getattr(profile, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(profile, name, value)
                profile.updated_at = now
                to_update.append(profile)
        ItemProfile.objects.bulk_create(to_create)
        ItemProfile.objects.bulk_update(to_update, [*_PROFILE_FIELDS, "updated_at"])
        _sync_channels(items, now)
    return len(to_create) + len(to_update)


def _sync_channels(items: Sequence[ItemFeatures], now: datetime) -> None:
    ids = [item.product_id for item in items]
    current = {
        (row.item_id, row.channel): row for row in ItemChannel.objects.filter(item_id__in=ids)
    }
    wanted = {(item.product_id, state.channel): state for item in items for state in item.channels}
    stale = [row.pk for key, row in current.items() if key not in wanted]
    ItemChannel.objects.filter(pk__in=stale).delete()
    to_create, to_update = [], []
    for (product_id, channel), state in wanted.items():
        values = {
            "is_available": state.is_available,
            "in_stock": state.in_stock,
            "price_amount": state.price_amount,
            "currency": state.currency,
        }
        row = current.get((product_id, channel))
        if row is None:
            to_create.append(ItemChannel(item_id=product_id, channel=channel, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            to_update.append(row)
    ItemChannel.objects.bulk_create(to_create)
    ItemChannel.objects.bulk_update(
        to_update, ["is_available", "in_stock", "price_amount", "currency", "updated_at"]
    )


def delete_items(product_ids: Iterable[int]) -> int:
    """Forget products the catalogue no longer has; their events stay for history."""
    deleted, _ = ItemProfile.objects.filter(product_id__in=list(product_ids)).delete()
    return deleted
