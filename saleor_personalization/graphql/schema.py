"""The schema: root fields of the personalization API, bound to one shop backend.

Each root field is declared with the binder of its audience, and the binder makes
that audience's check, once, for every field of it: ``storefront(...)`` (anyone),
``customer(...)`` (a logged-in customer; the resolver gets ``customer_id``) and
``staff(...)`` (the shop's manage permission, ``MANAGE_PLUGINS`` in Saleor). No
resolver checks rights itself, so a staff field is staff-only by its declaration.
"""

import graphene
from django.db import transaction

from ..shop import get_shop
from . import customer as customer_fields
from . import staff as staff_fields
from . import storefront as storefront_fields
from .access import require_customer, require_manager
from .backend import ShopBackend
from .cost import DEFAULT_FIRST
from .scalars import JSONString
from .types import (
    PersonalizationCampaignReport,
    PersonalizationConsent,
    PersonalizationEmailStepStats,
    PersonalizationModelRun,
    PersonalizationOffer,
    PersonalizationSegment,
    PersonalizationSegmentInfo,
    PersonalizationStats,
    PersonalizationTrackEventInput,
    PersonalizationTrackEventPayload,
    PersonalizationTrainPayload,
    make_list_type,
)

FIRST_HELP = "How many products (1-100; larger values are capped and reported in warnings)."
SERVED_HELP = (
    "The storefront's id for a shopper who is not logged in: the list's recommendationIds "
    "then count clicks from this shopper only."
)
CHANNEL_HELP = "Slug of the channel whose prices, availability and visibility apply."
ANONYMOUS_HELP = "The storefront's id for a shopper who is not logged in; ignored when logged in."


def build_schema(backend: ShopBackend) -> graphene.Schema:
    query, mutation = build_root_types(backend)
    return graphene.Schema(query=query, mutation=mutation, auto_camelcase=True)


def build_root_types(backend: ShopBackend) -> tuple[type, type]:
    """``Query`` and ``Mutation`` types whose resolvers close over ``backend``.

    Root fields are nullable: on Saleor's ``/graphql/`` they sit next to Saleor's own,
    and an error in one of ours (plugin off, bad id, over its cost) must null that field
    alone, not the whole response.
    """
    product_list = make_list_type(backend.product_type)

    def first_argument():
        return graphene.Int(default_value=DEFAULT_FIRST, description=FIRST_HELP)

    def bind(function):
        def resolve(_root, info, **kwargs):
            # The plugin's own tables are read from and written to the primary: a
            # view tracked a moment ago must show in recentlyViewed, and replica lag
            # must not hide a fresh consent. Saleor's rows are read from its replica
            # (the backend passes the alias), as Saleor's own resolvers do.
            # Each field in a savepoint: should a query of ours fail, Saleor's fields
            # in the same request (and transaction) still read and answer.
            with get_shop().database.writer(), transaction.atomic():
                backend.admit(info)
                return function(backend, info, **kwargs)

        return resolve

    def storefront(function):
        """A field for any shopper, logged in or not."""
        return bind(function)

    def customer(function):
        """A field for the logged-in customer only; ``function`` gets their ``customer_id``."""

        def for_customer(backend, info, **kwargs):
            return function(backend, info, customer_id=require_customer(backend, info), **kwargs)

        return bind(for_customer)

    def staff(function):
        """A field for staff only: the permission is checked here, before ``function`` runs."""

        def for_staff(backend, info, **kwargs):
            require_manager(backend, info)
            return function(backend, info, **kwargs)

        return bind(for_staff)

    class Query(graphene.ObjectType):
        personalized_products = graphene.Field(
            product_list,
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            first=first_argument(),
            anonymous_id=graphene.String(description=ANONYMOUS_HELP),
            discovery_share=graphene.Float(
                default_value=1.0,
                description=(
                    "Share of the places (0-1) from 'for you' (products the customer has not "
                    "bought); the rest come from 'buy again'. 1 (default): discovery only; "
                    "0: 'buy again' only, as buyAgainProducts answers."
                ),
            ),
            description=(
                "The shopper's 'for you' list: products they have not bought yet, new ones "
                "included, following their session; or the best fallback there is."
            ),
            resolver=storefront(storefront_fields.personalized_products),
        )
        buy_again_products = graphene.Field(
            product_list,
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            first=first_argument(),
            anonymous_id=graphene.String(
                description=f"{ANONYMOUS_HELP} Taken as on every list; a visitor bought nothing."
            ),
            description=(
                "The logged-in customer's 'buy again' list: products they bought, most likely "
                "to be reordered now first. Empty, with a warning, for a shopper who is not "
                "logged in."
            ),
            resolver=storefront(storefront_fields.buy_again_products),
        )
        similar_products = graphene.Field(
            product_list,
            product=graphene.ID(required=True),
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            first=first_argument(),
            anonymous_id=graphene.String(description=SERVED_HELP),
            description="Products like this one (for a product page).",
            resolver=storefront(storefront_fields.similar_products),
        )
        frequently_bought_together = graphene.Field(
            product_list,
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            product=graphene.ID(description="A product (product page)."),
            checkout=graphene.ID(description="A checkout token (cart page); give one of the two."),
            first=first_argument(),
            anonymous_id=graphene.String(description=SERVED_HELP),
            description="Complements bought with the product or the cart's products.",
            resolver=storefront(storefront_fields.frequently_bought_together),
        )
        recently_viewed_products = graphene.Field(
            product_list,
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            first=first_argument(),
            anonymous_id=graphene.String(description=ANONYMOUS_HELP),
            description="What the shopper viewed in the last 30 days, newest first.",
            resolver=storefront(storefront_fields.recently_viewed_products),
        )
        trending_products = graphene.Field(
            product_list,
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            category=graphene.ID(description="Only this category."),
            first=first_argument(),
            anonymous_id=graphene.String(description=SERVED_HELP),
            description="Rising in the channel over the last weeks.",
            resolver=storefront(storefront_fields.trending_products),
        )
        rerank_products = graphene.Field(
            product_list,
            products=graphene.List(
                graphene.NonNull(graphene.ID), required=True, description="At most 100."
            ),
            channel=graphene.String(required=True, description=CHANNEL_HELP),
            anonymous_id=graphene.String(description=ANONYMOUS_HELP),
            description="The storefront's own list (search, category page), most relevant first.",
            resolver=storefront(storefront_fields.rerank_products),
        )
        my_segments = graphene.List(
            graphene.NonNull(PersonalizationSegment),
            description="The logged-in customer's current segments.",
            resolver=customer(customer_fields.my_segments),
        )
        my_offers = graphene.List(
            graphene.NonNull(PersonalizationOffer),
            description="The logged-in customer's live segment offers (voucher codes).",
            resolver=customer(customer_fields.my_offers),
        )
        personalization_segments = graphene.List(
            graphene.NonNull(PersonalizationSegmentInfo),
            description="Every active segment with its size, history and members (staff).",
            resolver=staff(staff_fields.segments),
        )
        personalization_offer_report = graphene.List(
            graphene.NonNull(PersonalizationCampaignReport),
            description="Offers issued and redeemed per campaign, revenue vs the holdout (staff).",
            resolver=staff(staff_fields.offer_stats),
        )
        personalization_email_stats = graphene.List(
            graphene.NonNull(PersonalizationEmailStepStats),
            days=graphene.Int(default_value=30),
            description="Abandoned-checkout emails per step: sent, opened, clicked, recovered "
            "orders and revenue (staff).",
            resolver=staff(staff_fields.email_stats_for),
        )
        personalization_model_runs = graphene.List(
            graphene.NonNull(PersonalizationModelRun),
            first=graphene.Int(default_value=20),
            description="Training runs, newest first, with their holdout metrics (staff).",
            resolver=staff(staff_fields.model_runs),
        )
        personalization_live_run = graphene.Field(
            PersonalizationModelRun,
            description="The run serving lists now (staff).",
            resolver=staff(staff_fields.live_run),
        )
        personalization_stats = graphene.Field(
            PersonalizationStats,
            days=graphene.Int(default_value=30),
            description="List coverage, clicks and attributed orders and revenue (staff).",
            resolver=staff(staff_fields.stats),
        )

    class Mutation(graphene.ObjectType):
        track_event = graphene.Field(
            PersonalizationTrackEventPayload,
            input=PersonalizationTrackEventInput(required=True),
            description="Record a product view or a click on a recommendation.",
            resolver=storefront(storefront_fields.track_event),
        )
        marketing_consent_update = graphene.Field(
            PersonalizationConsent,
            granted=graphene.Boolean(required=True),
            description="The logged-in customer grants or withdraws marketing email consent.",
            resolver=customer(customer_fields.marketing_consent_update),
        )
        personalization_train = graphene.Field(
            PersonalizationTrainPayload,
            params=JSONString(description="Training parameters; defaults if omitted."),
            description="Queue a training run (staff).",
            resolver=staff(staff_fields.train),
        )
        personalization_rollback = graphene.Field(
            PersonalizationModelRun,
            run=graphene.ID(description="Run to put live; the previous live run if omitted."),
            description="Put an earlier model run back live (staff).",
            resolver=staff(staff_fields.rollback_model),
        )

    return Query, Mutation
