"""A small synthetic shop with structure a recommender can find.

Customers each favour one of three categories and reorder a few staples; orders
spread over 24 weeks. Deterministic (seeded), written straight to the feature store
and the interaction log.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from saleor_personalization.models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
)

END = datetime(2026, 6, 1, tzinfo=UTC)
CATEGORIES = {
    1: ("Kitchen", ["teapot", "mug", "kettle", "spoon", "bowl", "plate", "whisk"]),
    2: ("Garden", ["spade", "rake", "hose", "seed", "pot", "glove", "shears"]),
    3: ("Toys", ["robot", "kite", "puzzle", "ball", "doll", "train", "blocks"]),
}
COLOURS = ["red", "blue", "green"]
CHANNEL = "default-channel"


def product_id(category: int, k: int) -> int:
    return category * 100 + k


def build_shop(customers: int = 240, seed: int = 3, weeks: int = 24) -> dict:
    rng = random.Random(seed)
    items, channels = [], []
    for category, (name, words) in CATEGORIES.items():
        for k, word in enumerate(words):
            for c, colour in enumerate(COLOURS):
                pid = product_id(category, k * 3 + c)
                items.append(
                    ItemProfile(
                        product_id=pid,
                        name=f"{colour.title()} {word}",
                        category_id=category,
                        category_path=[name, word.title()],
                        product_type=word.title(),
                        price_amount=Decimal(5 + k),
                        currency="USD",
                        created_at=END - timedelta(weeks=weeks + 1),
                    )
                )
                channels.append(ItemChannel(item_id=pid, channel=CHANNEL, price_amount=5))
    ItemProfile.objects.bulk_create(items)
    ItemChannel.objects.bulk_create(channels)
    catalogue = {c: [product_id(c, k) for k in range(21)] for c in CATEGORIES}

    events, profiles = [], []
    start = END - timedelta(weeks=weeks)
    for customer in range(1, customers + 1):
        favourite = 1 + customer % 3
        staples = rng.sample(catalogue[favourite][:6], 2)
        profiles.append(
            CustomerProfile(customer_id=customer, country=["GB", "DE", "FR"][customer % 3])
        )
        for order in range(rng.randint(4, 8)):
            when = start + timedelta(seconds=rng.randint(0, weeks * 7 * 86400 - 1))
            basket = set(staples[: rng.randint(1, 2)])
            while len(basket) < rng.randint(3, 6):
                pool = (
                    catalogue[favourite]
                    if rng.random() < 0.85
                    else rng.choice(list(catalogue.values()))
                )
                basket.add(rng.choice(pool))
            for pid in basket:
                events.append(
                    Interaction(
                        customer_id=customer,
                        product_id=pid,
                        channel=CHANNEL,
                        kind=InteractionKind.PURCHASE,
                        quantity=1,
                        unit_price=Decimal(5),
                        currency="USD",
                        basket_ref=f"o{customer}-{order}",
                        occurred_at=when,
                        source_key=f"shop:{customer}:{order}:{pid}",
                    )
                )
    CustomerProfile.objects.bulk_create(profiles)
    Interaction.objects.bulk_create(events, batch_size=2000)
    return {"catalogue": catalogue, "end": END}


FAST = {"epochs": 8, "components": 16, "holdout_weeks": 4, "tune_users": 200, "threads": 1}


def trained_shop():
    """:func:`build_shop`, then a training run that must go live (the fixtures of the
    list-writing tests start from this)."""
    from saleor_personalization.recommender.pipeline import start_run, train_run

    build_shop()
    run = train_run(start_run(FAST))
    assert run.is_live, run.error or run.metrics.get("gate")
    return run
