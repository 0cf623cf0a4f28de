"""The Saleor plugin: Dashboard configuration and the hooks that feed the interaction log.

Saleor builds a plugins manager, and so an instance of this class, for every request
that touches plugins: ``__init__`` only stores what Saleor passes, and the parsed
configuration is computed on first use.

Every hook returns ``previous_value`` (these are notification hooks) and never raises:
an exception would turn the shopper's mutation into an "Internal Server Error" although
Saleor saved the data, and after commit it would cancel Saleor's later callbacks such as
the order confirmation email. Hooks build a small snapshot (one query at most) and hand
it to Celery; the work happens there. The exceptions are the offers' bookkeeping (the
code check and claim at ``preprocess_order_creation``, the redemption at
``order_created``, sealing a targeted voucher), which must happen with the order or
the voucher. Every hook body runs in a savepoint, so a plugin query that fails inside
Saleor's transaction cannot abort it.
"""

import functools
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.utils import timezone
from django.utils.functional import cached_property
from saleor.checkout.error_codes import CheckoutErrorCode
from saleor.plugins.base_plugin import BasePlugin, ConfigurationTypeField
from saleor.plugins.error_codes import PluginErrorCode

from ..configuration import (
    FIELDS,
    FIELDS_BY_ATTR,
    FIELDS_BY_NAME,
    ConfigurationError,
    PersonalizationConfig,
    default_configuration,
    in_form_order,
    parse_configuration,
    upgrade_items,
)
from ..emails.render import TemplateError, validate_templates
from ..offers.redemption import PERSONAL_ONLY, CodeCheck, claim_code, record_order
from ..services.queueing import enqueue
from ..tasks import (
    delete_products_task,
    erase_customer_task,
    issue_offers_task,
    link_checkout_task,
    record_cart_task,
    record_order_task,
    sync_customers_task,
    sync_products_task,
)
from .configuration import PLUGIN_ID
from .metadata import storefront_id_of
from .savepoint import guarded
from .snapshots import cart_snapshot, order_snapshot
from .vouchers import (
    SaleorVoucherCodes,
    order_exists_for_checkout,
    release_refused_usage,
    shared_code_of_campaign,
    signed_in_customer_id,
    voucher_targeted,
)

logger = logging.getLogger(__name__)

_FIELD_TYPES = {
    "boolean": ConfigurationTypeField.BOOLEAN,
    "int": ConfigurationTypeField.STRING,
    "float": ConfigurationTypeField.STRING,
    "string": ConfigurationTypeField.STRING,
    "multiline": ConfigurationTypeField.MULTILINE,
    "password": ConfigurationTypeField.PASSWORD,
    "steps": ConfigurationTypeField.STRING,
    "url_template": ConfigurationTypeField.STRING,
    "networks": ConfigurationTypeField.STRING,
    "keys": ConfigurationTypeField.STRING,
    "choice": ConfigurationTypeField.STRING,
    "output": ConfigurationTypeField.OUTPUT,
}


def _check_voucher_codes(config: PersonalizationConfig) -> None:
    """An automation's voucher code must be a voucher's, and that voucher its own.

    With an unknown code the offers would never start, and the admin would learn it
    only from a worker's log. A code of a voucher another campaign runs (targeted at a
    segment through its metadata, or another automation's), or a personal code the
    plugin issued, would make two campaigns seal and report one voucher: the other
    campaign's codes switched off, its status overwritten.
    """
    from .vouchers import code_owners

    wanted = {
        attr: code.strip()
        for attr, code in (
            ("winback_voucher", config.winback_voucher),
            ("abandoner_voucher", config.abandoner_voucher),
        )
        if code.strip()
    }
    owners = code_owners(set(wanted.values()))
    taken: dict[int, str] = {}
    for attr, code in wanted.items():
        name = FIELDS_BY_ATTR[attr].name
        owner = owners.get(code)
        if owner is None:
            raise ConfigurationError(
                name,
                f"no voucher has the code {code!r}; create the voucher in Discounts > Vouchers "
                "first, or leave this empty",
            )
        if owner.personal:
            raise ConfigurationError(
                name,
                f"{code!r} is a personal code the plugin issued to a customer; give a code of "
                "a voucher of this automation's own",
            )
        if owner.segment_key:
            raise ConfigurationError(
                name,
                f"{code!r} is a code of the voucher {owner.voucher_name!r}, which is targeted at "
                f"the segment {owner.segment_key!r} through its metadata; give this automation "
                "a voucher of its own",
            )
        if owner.voucher_id in taken:
            raise ConfigurationError(
                name,
                f"{code!r} is a code of the voucher {owner.voucher_name!r}, which "
                f"'{taken[owner.voucher_id]}' already uses; give each automation a voucher of "
                "its own",
            )
        taken[owner.voucher_id] = FIELDS_BY_ATTR[attr].label


def _invalid(error: ConfigurationError) -> ValidationError:
    """A ``pluginUpdate`` error keyed by the setting's name, its message led by its label.

    Saleor camel-cases the key into the error's ``field`` and the names have no
    underscores, so ``field`` is exactly the ``name`` of the configuration item the admin
    has to fix. (The Dashboard 3.23.27 does not outline that box: its plugin form looks
    for an error whose ``field`` is the literal ``"name"``, so the label in the message,
    shown as a notification, is what tells the admin which box it is.)
    """
    label = FIELDS_BY_NAME[error.field].label
    return ValidationError(
        {
            error.field: ValidationError(
                f"{label}: {error.message}", code=PluginErrorCode.INVALID.value
            )
        }
    )


def _hook(*, tracking: bool = True):
    """Make a hook safe: run it only when it applies, log any error, pass the value on.

    The body runs in a savepoint: Saleor calls some hooks inside its own transaction,
    where a failed plugin query would otherwise abort the transaction and fail the
    shopper's mutation although the error was caught (see ``saleor_adapter.savepoint``).
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, previous_value=None, **kwargs):
            try:
                applies = self.active and (not tracking or self.config.tracking_enabled)
            except Exception:
                logger.exception("Personalization hook %s failed", method.__name__)
                return previous_value
            if applies:
                guarded(f"hook {method.__name__}", lambda: method(self, *args, **kwargs), None)
            return previous_value

        return wrapper

    return decorate


class PersonalizationPlugin(BasePlugin):
    PLUGIN_ID = PLUGIN_ID
    PLUGIN_NAME = "Personalization"
    PLUGIN_DESCRIPTION = (
        "Personalized product lists, customer segments, segment offers and abandoned-checkout "
        "emails, computed inside the shop from its own orders and browsing."
    )
    # Global: product and customer hooks have no channel; a per-channel plugin would miss
    # them or receive them once per loaded channel.
    CONFIGURATION_PER_CHANNEL = False
    DEFAULT_ACTIVE = False
    DEFAULT_CONFIGURATION = default_configuration()
    CONFIG_STRUCTURE = {
        spec.name: {
            "type": _FIELD_TYPES[spec.kind],
            "help_text": spec.help_text,
            "label": spec.label,
        }
        for spec in FIELDS
    }

    @cached_property
    def config(self) -> PersonalizationConfig:
        try:
            return parse_configuration(self.configuration)
        except ConfigurationError:
            logger.exception("Invalid personalization configuration; using defaults")
            return parse_configuration({})

    @classmethod
    def _update_configuration_structure(cls, configuration):
        """A row saved by an older version keeps its meaning and shows in form order.

        Saleor drops names the plugin no longer declares and appends the settings a row
        lacks; it shows the rest in stored order, which would scatter a feature's
        settings after a version that added or moved some.
        """
        return in_form_order(
            super()._update_configuration_structure(upgrade_items(configuration or []))
        )

    @classmethod
    def _update_config_items(cls, configuration_to_update, current_config):
        """``pluginUpdate`` with an older setting name (or folded switch) still applies."""
        current_config[:] = upgrade_items(current_config)
        try:
            update = upgrade_items(configuration_to_update, current_config)
        except ConfigurationError as error:
            raise _invalid(error) from None
        super()._update_config_items(update, current_config)
        current_config[:] = in_form_order(current_config)

    @classmethod
    def validate_plugin_configuration(cls, plugin_configuration, **kwargs):
        """Refuse a Dashboard save whose values the plugin could not use (see ``_invalid``)."""
        try:
            config = parse_configuration(plugin_configuration.configuration)
            # Rendered against sample data: pybars compiles an unclosed block and then
            # renders nothing, so compiling alone would accept an empty email.
            validate_templates(config.email_subject_template, config.email_body_template, config)
            _check_voucher_codes(config)
        except TemplateError as error:
            spec = FIELDS_BY_ATTR[
                "email_subject_template" if error.part == "subject" else "email_body_template"
            ]
            raise _invalid(ConfigurationError(spec.name, str(error))) from None
        except ConfigurationError as error:
            raise _invalid(error) from None

    def resolve_plugin_configuration(self, request):
        """The settings as the Dashboard shows them, with the status composed now.

        Saleor calls this only to answer the staff ``plugin``/``plugins`` queries, so
        the report queries run when an admin opens the page, not on every request. A
        failure leaves the last stored status: the settings page must always open.
        """
        configuration = super().resolve_plugin_configuration(request)
        try:
            from saleor.core.db.connection import allow_writer

            from .admin_status import admin_status

            # The plugin's own tables, read once per page view (Saleor restricts the
            # writer inside GraphQL queries to catch accidental reads).
            with allow_writer():
                status = admin_status()
        except Exception:
            logger.exception("Could not compose the personalization status")
            return configuration
        return [
            {**item, "value": status[item["name"]]} if item.get("name") in status else item
            for item in configuration
        ]

    def _should_track(self, customer_id: Any, email: str | None) -> bool:
        return bool(customer_id) or self.config.track_anonymous

    # Checkouts -------------------------------------------------------------------

    def _record_checkout(self, checkout) -> None:
        if self._should_track(checkout.user_id, checkout.email):
            enqueue(record_cart_task, cart_snapshot(checkout).to_payload())

    @_hook()
    def checkout_created(self, checkout, webhooks=None, **kwargs):
        self._record_checkout(checkout)

    @_hook()
    def checkout_updated(self, checkout, webhooks=None, **kwargs):
        self._record_checkout(checkout)

    @_hook()
    def checkout_metadata_updated(self, checkout, webhooks=None, **kwargs):
        """The storefront tied its anonymous shopper id to this checkout."""
        anonymous_id = storefront_id_of(checkout)
        if anonymous_id and self._should_track(checkout.user_id, checkout.email):
            enqueue(link_checkout_task, str(checkout.token), anonymous_id, checkout.user_id)

    @_hook()
    def checkout_fully_paid(self, checkout, webhooks=None, **kwargs):
        self._record_checkout(checkout)

    # Orders ----------------------------------------------------------------------

    def _record_order(self, order) -> None:
        if self._should_track(order.user_id, order.user_email):
            enqueue(record_order_task, order_snapshot(order).to_payload())

    @_hook(tracking=False)
    def order_created(self, order, webhooks=None, **kwargs):
        if self.config.tracking_enabled:
            self._record_order(order)
        # Offers are bookkeeping, not tracking: recorded even with tracking off, here and
        # now (not by a task), and the code switched off whatever the voucher says.
        code = order.voucher_code
        if code and record_order(code, order.checkout_token, str(order.pk), order.created_at):
            SaleorVoucherCodes().deactivate([code])

    def preprocess_order_creation(self, checkout_info, lines=None, previous_value=None):
        """Refuse a segment code used by anyone but its customer, or used before.

        The check claims the code for this checkout (see ``offers.redemption``), so of
        two concurrent orders with one code only the first passes. A shared code of a
        targeted voucher is refused: only personal codes work there.

        This hook raises on purpose: Saleor turns the ValidationError into a
        ``checkoutComplete`` error and keeps the checkout. Any fault of the plugin's
        own (database, bug) is confined to a savepoint, logged, and lets the order
        through: the shop keeps selling, and Saleor's ``single_use`` still holds.
        """
        if not self.active:
            return previous_value
        checkout = checkout_info.checkout
        code = getattr(checkout, "voucher_code", None)
        if not code:
            return previous_value

        def check() -> CodeCheck:
            result = claim_code(
                code,
                signed_in_customer_id(checkout, self.requestor),
                checkout.email or "",
                str(checkout.token),
                timezone.now(),
                order_exists_for_checkout,
            )
            if not result.ours and shared_code_of_campaign(code, self.config):
                return CodeCheck(True, PERSONAL_ONLY)
            return result

        result = guarded("checking a voucher code", check, CodeCheck(ours=False))
        if result.refusal:
            guarded(
                "giving back a refused voucher use",
                lambda: release_refused_usage(checkout_info),
                None,
            )
            raise ValidationError(
                {
                    "voucher_code": ValidationError(
                        result.refusal, code=CheckoutErrorCode.VOUCHER_NOT_APPLICABLE.value
                    )
                }
            )
        return previous_value

    @_hook()
    def order_fully_paid(self, order, webhooks=None, **kwargs):
        # Same source keys as order_created: a paid order recorded before adds nothing.
        self._record_order(order)

    @_hook()
    def order_bulk_created(self, orders, webhooks=None, **kwargs):
        for order in orders:
            self._record_order(order)

    # Catalogue -------------------------------------------------------------------

    @_hook()
    def product_created(self, product, webhooks=None, **kwargs):
        enqueue(sync_products_task, [product.pk])

    @_hook()
    def product_updated(self, product, webhooks=None, **kwargs):
        enqueue(sync_products_task, [product.pk])

    @_hook()
    def product_deleted(self, product, variants, webhooks=None, **kwargs):
        enqueue(delete_products_task, [product.pk])

    @_hook()
    def product_variant_created(self, product_variant, webhooks=None, **kwargs):
        enqueue(sync_products_task, [product_variant.product_id])

    @_hook()
    def product_variant_updated(self, product_variant, webhooks=None, **kwargs):
        enqueue(sync_products_task, [product_variant.product_id])

    @_hook()
    def product_variant_deleted(self, product_variant, webhooks=None, **kwargs):
        enqueue(sync_products_task, [product_variant.product_id])

    # Customers -------------------------------------------------------------------

    @_hook()
    def customer_created(self, customer, webhooks=None, **kwargs):
        enqueue(sync_customers_task, [customer.pk])

    @_hook()
    def customer_updated(self, customer, webhooks=None, **kwargs):
        enqueue(sync_customers_task, [customer.pk])

    @_hook()
    def customer_metadata_updated(self, customer, webhooks=None, **kwargs):
        # The mapped metadata keys are recommender features (customer attributes).
        enqueue(sync_customers_task, [customer.pk])

    @_hook()
    def account_confirmed(self, user, webhooks=None, **kwargs):
        # confirmAccount: Saleor has just linked the address's past guest orders.
        enqueue(sync_customers_task, [user.pk])

    @_hook(tracking=False)
    def customer_deleted(self, customer, webhooks=None, **kwargs):
        # Erasure does not depend on tracking being on: the data may predate the switch.
        enqueue(erase_customer_task, customer.pk, customer.email or "")

    @_hook(tracking=False)
    def account_deleted(self, user, webhooks=None, **kwargs):
        enqueue(erase_customer_task, user.pk, user.email or "")

    # Vouchers --------------------------------------------------------------------

    def _voucher_changed(self, voucher) -> None:
        """Seal a voucher targeted at a segment and issue its codes now, not next night."""
        if voucher_targeted(voucher):
            enqueue(issue_offers_task)

    @_hook(tracking=False)
    def voucher_created(self, voucher, code, webhooks=None, **kwargs):
        self._voucher_changed(voucher)

    @_hook(tracking=False)
    def voucher_updated(self, voucher, code, webhooks=None, **kwargs):
        self._voucher_changed(voucher)

    @_hook(tracking=False)
    def voucher_metadata_updated(self, voucher, webhooks=None, **kwargs):
        self._voucher_changed(voucher)

    # HTTP ------------------------------------------------------------------------

    def webhook(self, request: HttpRequest, path: str, previous_value) -> HttpResponse:
        """The plugin's URLs: ``graphql/`` (the API) and ``email/...`` (email links).

        Saleor's legacy ``/plugins/<id>/`` route does not check ``active``; this does:
        with the plugin off the API answers 503 with a GraphQL error ``UNAVAILABLE``
        (as ``graphql_endpoint.global_route`` does on the global route, which answers
        without Saleor's manager), other paths 404. An unexpected error
        becomes a 500 with a GraphQL-shaped body, never a traceback.
        """
        route = path.strip("/")
        if not self.active:
            if route == "graphql":
                from .graphql_endpoint import unavailable

                return unavailable(request)
            return HttpResponseNotFound()
        try:
            if route == "graphql":
                from .graphql_endpoint import answer

                return answer(request, self.config)
            if route.startswith("email/"):
                from ..emails.views import email_endpoint

                return email_endpoint(request, route)
        except Exception:
            logger.exception("Personalization endpoint %s failed", path)
            return JsonResponse(
                {
                    "errors": [
                        {"message": "Internal error", "extensions": {"code": "INTERNAL_ERROR"}}
                    ]
                },
                status=500,
            )
        return HttpResponseNotFound()
