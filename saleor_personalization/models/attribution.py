"""Clicks on served recommendations, the base of attribution reporting."""

from django.db import models

from .identity import ANONYMOUS_ID_LENGTH


class RecommendationClick(models.Model):
    """A shopper followed a recommendation.

    Orders are attributed at report time: a purchase of the clicked product by the
    same shopper within the attribution window counts for the list that showed it.
    ``source_key`` makes a storefront's retried ``trackEvent`` count once.
    """

    source = models.CharField(max_length=32, help_text="List the product was served from.")
    product_id = models.BigIntegerField()
    customer_id = models.BigIntegerField(null=True, blank=True)
    anonymous_id = models.CharField(max_length=ANONYMOUS_ID_LENGTH, blank=True, default="")
    channel = models.CharField(max_length=255, blank=True, default="")
    served_at = models.DateTimeField()
    clicked_at = models.DateTimeField()
    source_key = models.CharField(max_length=191, unique=True)

    class Meta:
        app_label = "saleor_personalization"
        indexes = [
            models.Index(fields=["clicked_at"], name="sp_click_clicked"),
            models.Index(fields=["customer_id", "product_id"], name="sp_click_customer"),
            models.Index(fields=["anonymous_id"], name="sp_click_anonymous"),
        ]

    def __str__(self) -> str:
        return f"click on {self.product_id} from {self.source}"
