"""The API's own types, all prefixed ``Personalization`` so they never clash with Saleor's.

Types that carry a product are made per schema (:func:`make_list_type`): Saleor's
``Product`` inside Saleor, the standalone product type outside it.
"""

from datetime import timedelta

import graphene
from django.utils import timezone

from ..models import ListKind
from ..segments.compute import segment_members, segment_sizes
from .errors import ErrorCode, PersonalizationError, redact_paths
from .scalars import Date, DateTime, JSONString


class PersonalizationEventKind(graphene.Enum):
    PRODUCT_VIEW = "product_view"
    RECOMMENDATION_CLICK = "recommendation_click"


class PersonalizationTrackEventInput(graphene.InputObjectType):
    kind = graphene.Field(PersonalizationEventKind, required=True)
    channel = graphene.String(required=True, description="Channel slug.")
    product = graphene.ID(description="The viewed product (PRODUCT_VIEW).")
    recommendation_id = graphene.String(
        description="The clicked item's recommendationId (RECOMMENDATION_CLICK)."
    )
    anonymous_id = graphene.String(
        description="The storefront's id for a shopper who is not logged in "
        "(letters, digits, '-', '_', '.'; at most 64 characters)."
    )
    event_id = graphene.String(
        description="Client-generated id: sending the same event again records it once."
    )


class PersonalizationTrackEventPayload(graphene.ObjectType):
    recorded = graphene.Boolean(
        required=True, description="False when this eventId was recorded before."
    )


class PersonalizationConsent(graphene.ObjectType):
    granted = graphene.Boolean(required=True)
    updated_at = DateTime()


class PersonalizationModelRun(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.String(required=True)
    is_live = graphene.Boolean(required=True)
    created_at = DateTime(required=True)
    finished_at = DateTime()
    promoted_at = DateTime()
    metrics = JSONString(
        required=True, description="Holdout metrics (NDCG, precision, recall, MAP, coverage, AUC)."
    )
    params = JSONString(required=True)
    error = graphene.String(required=True)

    @staticmethod
    def from_model(run) -> "PersonalizationModelRun":
        return PersonalizationModelRun(
            id=graphene.Node.to_global_id("PersonalizationModelRun", run.pk),
            status=run.status,
            is_live=run.is_live,
            created_at=run.created_at,
            finished_at=run.finished_at,
            promoted_at=run.promoted_at,
            metrics=run.metrics,
            params=run.params,
            error=redact_paths(run.error),
        )


class PersonalizationTrainPayload(graphene.ObjectType):
    run = graphene.Field(PersonalizationModelRun, description="The queued run.")
    message = graphene.String(required=True)


class PersonalizationSourceStats(graphene.ObjectType):
    source = graphene.String(required=True, description="The list: personal, similar, ...")
    clicks = graphene.Int(required=True)
    attributed_orders = graphene.Int(required=True)
    attributed_revenue = graphene.Float(required=True)


class PersonalizationListCoverage(graphene.ObjectType):
    kind = graphene.String(required=True)
    lists = graphene.Int(required=True, description="Precomputed lists of this kind.")


class PersonalizationStats(graphene.ObjectType):
    since = DateTime(required=True)
    customers_with_lists = graphene.Int(required=True)
    active_customers = graphene.Int(
        required=True, description="Customers with any recorded behaviour in the period."
    )
    personal_list_share = graphene.Float(
        required=True, description="Share of active customers who have a personal list."
    )
    catalogue_coverage = graphene.Float(
        description="Live run's catalogue coverage@10 on its holdout."
    )
    lists = graphene.List(graphene.NonNull(PersonalizationListCoverage), required=True)
    sources = graphene.List(graphene.NonNull(PersonalizationSourceStats), required=True)
    clicks = graphene.Int(required=True)
    attributed_orders = graphene.Int(required=True)
    attributed_revenue = graphene.Float(required=True)


class PersonalizationSegment(graphene.ObjectType):
    key = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String(required=True)
    entered_at = DateTime(required=True)


class PersonalizationOffer(graphene.ObjectType):
    code = graphene.String(required=True, description="The customer's own voucher code.")
    voucher_name = graphene.String(required=True)
    discount_type = graphene.String(description="percentage or fixed")
    discount = graphene.String(description='e.g. "10%" or "5.00 USD"')
    segment = graphene.String(required=True, description="Segment key the offer is for.")
    campaign = graphene.String(required=True)
    issued_at = DateTime(required=True)
    expires_at = DateTime(required=True)


class PersonalizationSegmentSize(graphene.ObjectType):
    date = Date(required=True)
    size = graphene.Int(required=True)


class PersonalizationSegmentMember(graphene.ObjectType):
    customer_id = graphene.ID(required=True, description="The customer's User id.")
    entered_at = DateTime(required=True)


class PersonalizationSegmentInfo(graphene.ObjectType):
    key = graphene.String(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(required=True)
    description = graphene.String(required=True)
    size = graphene.Int(required=True)
    sizes = graphene.List(
        graphene.NonNull(PersonalizationSegmentSize),
        required=True,
        days=graphene.Int(default_value=30),
        description="Daily sizes, oldest first.",
    )
    members = graphene.List(
        graphene.NonNull(PersonalizationSegmentMember),
        required=True,
        first=graphene.Int(default_value=100),
        description="Current members, newest first (at most 100).",
    )

    @staticmethod
    def resolve_sizes(root, _info, days=30):
        if not 1 <= days <= 3650:
            raise PersonalizationError(
                ErrorCode.INVALID_ARGUMENT, "days must be between 1 and 3650.", "days"
            )
        since = timezone.now().date() - timedelta(days=days)
        return [
            PersonalizationSegmentSize(date=point.day, size=point.size)
            for point in segment_sizes(root.segment_id, since)
        ]

    @staticmethod
    def resolve_members(root, _info, first=100):
        if first is None or not 1 <= first <= 100:
            raise PersonalizationError(
                ErrorCode.INVALID_ARGUMENT, "first must be between 1 and 100.", "first"
            )
        return [
            PersonalizationSegmentMember(
                customer_id=graphene.Node.to_global_id("User", member.customer_id),
                entered_at=member.entered_at,
            )
            for member in segment_members(root.segment_id, first)
        ]


class PersonalizationCampaignReport(graphene.ObjectType):
    campaign = graphene.String(required=True)
    segment = graphene.String(required=True)
    issued = graphene.Int(required=True)
    redeemed = graphene.Int(required=True)
    held_out = graphene.Int(required=True)
    revenue_with_offer = graphene.Float(
        required=True, description="Revenue per customer who got a code, while it ran."
    )
    revenue_holdout = graphene.Float(
        required=True, description="Revenue per held-out customer over the same period."
    )
    uplift = graphene.Float(required=True)


class PersonalizationEmailStepStats(graphene.ObjectType):
    step = graphene.Int(required=True)
    sent = graphene.Int(required=True)
    opened = graphene.Int(required=True)
    clicked = graphene.Int(required=True)
    recovered_orders = graphene.Int(required=True)
    revenue = graphene.Float(required=True, description="Recovered orders' totals.")
    skipped = graphene.Int(required=True, description="Stopped: completed, emptied, no consent.")
    failed = graphene.Int(required=True)


LIST_KINDS = [kind.value for kind in ListKind]


def make_list_type(product_type) -> type[graphene.ObjectType]:
    """The product list type for one schema, around that schema's product type."""

    class PersonalizationRecommendation(graphene.ObjectType):
        product = graphene.Field(graphene.NonNull(product_type))
        reason = graphene.String(
            required=True, description='Why it is shown, e.g. "Because you bought X".'
        )
        recommendation_id = graphene.String(
            required=True,
            description="Send it back with trackEvent(RECOMMENDATION_CLICK) for attribution.",
        )
        source = graphene.String(
            required=True, description="personal, popular, similar, bought_together, ..."
        )
        score = graphene.Float(required=True)

    class PersonalizationProductList(graphene.ObjectType):
        items = graphene.List(graphene.NonNull(PersonalizationRecommendation), required=True)
        warnings = graphene.List(
            graphene.NonNull(graphene.String),
            required=True,
            description="Adjustments made to the request, e.g. `first` capped.",
        )

    return PersonalizationProductList
