"""Customer segments, who is in them (with history) and how big they were each day."""

from django.db import models
from django.db.models import Q


class SegmentKind(models.TextChoices):
    RULE = "rule", "Rule"
    LEARNED = "learned", "Learned"


class Segment(models.Model):
    """A named group of customers; ``key`` is stable and used in metadata and vouchers."""

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=SegmentKind.choices, default=SegmentKind.RULE)
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "saleor_personalization"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """A customer's stay in a segment; ``left_at`` is empty while they are in it."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer_id = models.BigIntegerField()
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer_id"],
                condition=Q(left_at__isnull=True),
                name="sp_membership_one_open",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("entered_at")),
                name="sp_membership_left_after_entered",
            ),
        ]
        indexes = [
            models.Index(fields=["customer_id", "left_at"], name="sp_membership_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentSize(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    date = models.DateField()
    size = models.PositiveIntegerField()

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(fields=["segment", "date"], name="sp_segment_size_daily"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.date}: {self.size}"
