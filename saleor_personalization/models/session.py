"""What a request needs to follow the shopper's session: each product's neighbours.

Session-aware serving scores the products a shopper just viewed, put in the cart or
bought against their neighbours. Scoring those against the whole catalogue inside a
request would cost a model load and a catalogue-wide product; instead each product's
top neighbours are precomputed (with the live model's lists, and for a new product
when it is created) and a request reads the rows of its few context products.
"""

from django.db import models


class ItemNeighbours(models.Model):
    """One product's strongest item-to-item links, strongest first.

    ``neighbours`` is ``[[product_id, weight], ...]``: the weight blends the live
    model's co-purchase (EASE) weight with the cosine of the two products' LightFM
    embeddings (:mod:`saleor_personalization.recommender.neighbours`), so a product
    with few purchases still has neighbours through its features. ``from_features``
    marks a product created after training whose embedding came from its features.
    """

    product_id = models.BigIntegerField(primary_key=True)
    neighbours = models.JSONField(default=list)
    from_features = models.BooleanField(default=False)
    model_run = models.ForeignKey(
        "saleor_personalization.ModelRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    generated_at = models.DateTimeField()

    class Meta:
        app_label = "saleor_personalization"

    def __str__(self) -> str:
        return f"neighbours of product {self.product_id}"
