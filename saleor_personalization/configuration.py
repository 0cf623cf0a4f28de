"""The plugin's settings: one schema for the Dashboard form and for the core.

Saleor stores plugin configuration as a list of ``{"name", "value"}`` items and, after
an admin edits it in the Dashboard, every non-boolean value is a string. The core never
reads that list directly: :func:`parse_configuration` turns it into a typed, validated
:class:`PersonalizationConfig`, so a bad value is refused with a message naming the
field instead of failing later inside a Celery task.
"""

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any


class ConfigurationError(ValueError):
    """A setting has a value the plugin cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FieldSpec:
    """How a setting is shown in the Dashboard and parsed for the core.

    ``name`` is what Saleor stores and the Dashboard shows; it is camelCase without
    underscores because Saleor camel-cases the key of a ``pluginUpdate`` error into its
    ``field``, and only a name that survives that unchanged lets a client point at the
    setting. ``attr`` is the :class:`PersonalizationConfig` attribute the core reads,
    and also the setting's name before 0.2 (still accepted, see :func:`upgrade_items`).
    """

    attr: str
    name: str
    kind: str  # boolean, int, float, string, multiline, password, output, steps, url_template,
    # networks, keys, choice
    default: Any
    label: str
    help_text: str
    minimum: float | None = None
    maximum: float | None = None
    placeholders: tuple[str, ...] = ("{token}",)  # url_template: needs one of these
    choices: tuple[str, ...] = ()  # choice: the values a text field accepts


# The Dashboard (3.23) shows text fields in this order, then every checkbox in this
# order, then password fields on a card of their own. Labels start with the feature so
# each feature's text fields and checkboxes still read together in those two blocks.
# A feature that needs a value is on when the value is filled in (a voucher code, the
# recovery URL, a session weight above 0) instead of having a checkbox of its own far
# below it, and a choice among a few options is one text field, not several checkboxes.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "model_status",
        "model_status",
        "output",
        "No model trained yet.",
        "Status · Recommendation model (read-only)",
        "The live model, how it compares with bestsellers, and why the last retrain was kept "
        "or not. The status fields are filled in when this page is opened.",
    ),
    FieldSpec(
        "statusSegments",
        "statusSegments",
        "output",
        "",
        "Status · Segments: key = name (customers) (read-only)",
        "Segment keys to put in a voucher's personalization.segment metadata, with their "
        "plain names and current sizes.",
    ),
    FieldSpec(
        "statusOffers",
        "statusOffers",
        "output",
        "",
        "Status · Offers (read-only)",
        "Per campaign and segment: personal codes issued and redeemed, and the spend per "
        "customer with a code against the holdout.",
    ),
    FieldSpec(
        "statusEmails",
        "statusEmails",
        "output",
        "",
        "Status · Abandoned-checkout emails (read-only)",
        "Emails sent, opened and clicked, and the checkouts and revenue they recovered.",
    ),
    FieldSpec(
        "statusRecommendations",
        "statusRecommendations",
        "output",
        "",
        "Status · Recommendations (read-only)",
        "Clicks on recommendations per list and the orders and revenue that followed.",
    ),
    # Recommendations ---------------------------------------------------------
    FieldSpec(
        "list_size",
        "recommendationsListSize",
        "int",
        50,
        "Recommendations · Products per precomputed list",
        "Products kept per precomputed list; storefront pages are cut from it after the rules.",
        minimum=10,
        maximum=500,
    ),
    FieldSpec(
        "training_interval_hours",
        "recommendationsRetrainHours",
        "int",
        24,
        "Recommendations · Retrain after (hours)",
        "Retrain the model when the live one is older than this. 0 disables scheduled training.",
        minimum=0,
        maximum=24 * 30,
    ),
    FieldSpec(
        "recently_bought_days",
        "recommendationsHideBoughtDays",
        "int",
        30,
        "Recommendations · Hide purchases of the last (days)",
        "Leave out products the customer bought within this many days, unless the product is "
        "one customers reorder or one they have bought in two or more orders. 0 keeps them.",
        minimum=0,
        maximum=3650,
    ),
    FieldSpec(
        "customer_attribute_keys",
        "recommendationsCustomerMetadataKeys",
        "keys",
        "",
        "Recommendations · Customer metadata keys to learn from",
        "Comma-separated customer metadata keys (private or public) whose values describe "
        "customers, e.g. loyalty_tier, age_band. Each value becomes a feature of the "
        "recommender beside the country, so customers alike in them get alike lists. Read "
        "at each customer change and before each training; emptied, the next training "
        "forgets them. Never shown to shoppers.",
    ),
    FieldSpec(
        "max_per_category",
        "recommendationsMaxPerCategory",
        "int",
        3,
        "Recommendations · Most products of one category in the top 10",
        "Diversity rule for the first ten positions. 0 turns the rule off.",
        minimum=0,
        maximum=10,
    ),
    # Session -----------------------------------------------------------------
    FieldSpec(
        "session_weight",
        "recommendationsSessionWeight",
        "float",
        0.3,
        "Session · Weight of the current session (0-1; 0 turns it off)",
        "How far a customer's list follows what they view, add to the cart and buy now "
        '("Because you viewed X"): 0 turns session following off, so every list is the '
        "precomputed one; 1 ranks by the session alone. Above 0, visitors without a list of "
        "their own follow their session.",
        minimum=0,
        maximum=1,
    ),
    FieldSpec(
        "session_hours",
        "recommendationsSessionHours",
        "int",
        24,
        "Session · Window (hours)",
        "Events older than this are not part of the current session.",
        minimum=1,
        maximum=24 * 30,
    ),
    FieldSpec(
        "session_events",
        "recommendationsSessionEvents",
        "int",
        20,
        "Session · Events read per request",
        "The latest this many views, cart changes and purchases make the session.",
        minimum=1,
        maximum=200,
    ),
    # Segments ----------------------------------------------------------------
    FieldSpec(
        "lapse_days",
        "segmentsLapseDays",
        "int",
        300,
        "Segments · Lapsed after (days without an order)",
        "A customer with no order for this many days is 'lapsed' (about 10 months by default).",
        minimum=7,
        maximum=3650,
    ),
    FieldSpec(
        "abandoner_min_carts",
        "segmentsAbandonerCarts",
        "int",
        3,
        "Segments · Abandoned carts that make a 'frequent abandoner'",
        "Carts left with products for over a day in the last 90 days that make a customer a "
        "frequent abandoner.",
        minimum=1,
        maximum=100,
    ),
    # Offers ------------------------------------------------------------------
    FieldSpec(
        "winback_voucher",
        "offersWinbackVoucher",
        "string",
        "",
        "Offers · Win-back voucher code (empty: no win-back offers)",
        "Filling this in starts win-back offers: every lapsed customer (see 'Segments · Lapsed "
        "after') gets a personal code of the voucher that has this code (create it in "
        "Discounts > Vouchers). Empty the field to stop them.",
    ),
    FieldSpec(
        "abandoner_voucher",
        "offersAbandonerVoucher",
        "string",
        "",
        "Offers · Frequent-abandoner voucher code (empty: no incentive)",
        "Filling this in starts the incentive: every frequent cart abandoner gets a personal "
        "code of the voucher that has this code (also put in the last abandoned-checkout "
        "email). Empty the field to stop it.",
    ),
    FieldSpec(
        "max_offer_percent",
        "offersMaxPercent",
        "int",
        30,
        "Offers · Largest percentage off (%)",
        "Segment vouchers giving a larger percentage off issue no codes (guardrail).",
        minimum=0,
        maximum=100,
    ),
    FieldSpec(
        "max_offer_amount",
        "offersMaxAmount",
        "float",
        50.0,
        "Offers · Largest fixed amount off",
        "Segment vouchers giving more than this amount off (any currency) issue no codes. "
        "0: no limit.",
        minimum=0,
        maximum=1000000,
    ),
    FieldSpec(
        "offer_validity_days",
        "offersValidityDays",
        "int",
        14,
        "Offers · Personal code valid for (days)",
        "A personal code expires after this many days (or at the voucher's end date).",
        minimum=1,
        maximum=365,
    ),
    FieldSpec(
        "offer_frequency_days",
        "offersFrequencyDays",
        "int",
        30,
        "Offers · At most one offer per customer in (days)",
        "Frequency cap across campaigns: a customer who got a code gets no other within this "
        "window. 0: no cap.",
        minimum=0,
        maximum=365,
    ),
    FieldSpec(
        "offer_holdout_percent",
        "offersHoldoutPercent",
        "int",
        10,
        "Offers · Holdout share (%)",
        "Share of each segment that gets no code, so that reports can measure the uplift.",
        minimum=0,
        maximum=90,
    ),
    # Abandoned-checkout emails -----------------------------------------------
    FieldSpec(
        "abandoned_recovery_url",
        "emailsRecoveryUrl",
        "url_template",
        "",
        "Emails · Checkout recovery URL (empty: no emails)",
        "Filling this in starts abandoned-checkout emails to shoppers who left a checkout with "
        "products and an email address. The storefront URL that restores the cart, with "
        "{token} for the checkout token, e.g. https://shop.example.com/cart?checkout={token}.",
    ),
    FieldSpec(
        "email_delivery",
        "emailsDelivery",
        "choice",
        "smtp+app",
        "Emails · Delivery (smtp, app, smtp+app or none)",
        "smtp: send through SMTP (the 'Emails · SMTP' settings below). app: only emit the "
        "notify event 'personalization_abandoned_checkout' for an email app subscribed to "
        "NOTIFY_USER (SendGrid, Klaviyo, SMTP apps) to deliver. smtp+app: both. none: pause "
        "the emails and keep every other setting.",
        choices=("smtp", "app", "smtp+app", "none"),
    ),
    FieldSpec(
        "storefront_product_url",
        "emailsProductUrl",
        "url_template",
        "",
        "Emails · Storefront product URL",
        "Where a recommended product in an email links to, with {slug} (or {id}, Saleor's "
        "product ID), e.g. https://shop.example.com/products/{slug}. Empty: recommended "
        "products are shown without a link.",
        placeholders=("{slug}", "{id}"),
    ),
    FieldSpec(
        "abandoned_step_hours",
        "emailsStepHours",
        "steps",
        "1,24,72",
        "Emails · Reminder steps (hours idle)",
        "Hours a checkout must be idle before each email: step 1 reminds, step 2 adds "
        "recommendations, step 3 adds the shopper's offer. Comma-separated, increasing, 1-3 steps.",
    ),
    FieldSpec(
        "abandoned_recommendations",
        "emailsRecommendations",
        "int",
        4,
        "Emails · Recommendations per email",
        "Products suggested in steps 2 and 3. 0: none.",
        minimum=0,
        maximum=12,
    ),
    FieldSpec(
        "abandoned_max_age_days",
        "emailsMaxAgeDays",
        "int",
        14,
        "Emails · Forget checkouts idle for more than (days)",
        "Checkouts idle longer than this get no more emails.",
        minimum=1,
        maximum=90,
    ),
    FieldSpec(
        "abandoned_scan_minutes",
        "emailsScanMinutes",
        "int",
        15,
        "Emails · Look for abandoned checkouts every (minutes)",
        "How often the scan for due reminder emails runs.",
        minimum=5,
        maximum=1440,
    ),
    FieldSpec(
        "consent_metadata_key",
        "emailsConsentMetadataKey",
        "string",
        "marketing_consent",
        "Emails · Consent metadata key",
        "Customer metadata key (private, then public metadata) whose value 'true' imports "
        "marketing consent when it changes, for shops that already keep consent there. "
        "Empty: consent is set only through the plugin's API.",
    ),
    FieldSpec(
        "email_subject_template",
        "emailsSubjectTemplate",
        "string",
        "",
        "Emails · Subject (Handlebars)",
        "Empty: the built-in subject in the checkout's language (English, Turkish, Hungarian). "
        "Variables: first_name, step, shop_name, line_count.",
    ),
    FieldSpec(
        "email_body_template",
        "emailsBodyTemplate",
        "multiline",
        "",
        "Emails · HTML (Handlebars)",
        "Empty: the built-in template in the checkout's language. Variables: first_name, lines "
        "(name, variant, quantity, price, image_url), total, recovery_url, recommendations, "
        "voucher_code, voucher_expires, unsubscribe_url, open_pixel_url, step, shop_name.",
    ),
    FieldSpec(
        "sender_name",
        "emailsSenderName",
        "string",
        "",
        "Emails · Sender name",
        "Empty: the shop's name.",
    ),
    FieldSpec(
        "sender_address",
        "emailsSenderAddress",
        "string",
        "",
        "Emails · Sender address",
        "Empty: Saleor's DEFAULT_FROM_EMAIL.",
    ),
    FieldSpec(
        "smtp_host",
        "emailsSmtpHost",
        "string",
        "",
        "Emails · SMTP host",
        "Empty: Saleor's USER_EMAIL_URL settings (and the other SMTP settings are not used). "
        "The password is on the card under the settings.",
    ),
    FieldSpec(
        "smtp_port",
        "emailsSmtpPort",
        "int",
        587,
        "Emails · SMTP port",
        "Port of the SMTP host (587 with STARTTLS, 465 with SSL).",
        minimum=1,
        maximum=65535,
    ),
    FieldSpec(
        "smtp_security",
        "emailsSmtpSecurity",
        "choice",
        "starttls",
        "Emails · SMTP security (starttls, ssl or none)",
        "starttls: upgrade the connection (usually port 587). ssl: implicit TLS from the "
        "start (usually port 465). none: unencrypted, only for a relay on the same host.",
        choices=("starttls", "ssl", "none"),
    ),
    FieldSpec(
        "smtp_user",
        "emailsSmtpUser",
        "string",
        "",
        "Emails · SMTP user",
        "Login for the SMTP host, if it needs one.",
    ),
    # API ---------------------------------------------------------------------
    FieldSpec(
        "track_rate_limit",
        "apiTrackRateLimit",
        "int",
        120,
        "API · Tracked events per client per minute",
        "trackEvent calls accepted per customer, app or anonymous id (and address) per minute; "
        "more are refused with RATE_LIMITED so a script cannot flood the log.",
        minimum=1,
        maximum=100000,
    ),
    FieldSpec(
        "graphql_max_cost",
        "apiMaxQueryCost",
        "int",
        5000,
        "API · Query cost limit",
        "Largest query cost the personalization endpoint executes (a product costs one, "
        "lists cost their length), as Saleor limits its own API.",
        minimum=100,
        maximum=1000000,
    ),
    FieldSpec(
        "trusted_proxies",
        "apiTrustedProxies",
        "networks",
        "",
        "API · Trusted proxy addresses",
        "Comma-separated addresses or networks (e.g. 10.0.0.0/8) of the reverse proxies in "
        "front of Saleor. X-Forwarded-For is believed only when the connection comes from one "
        "of them; empty: the connecting address is the client, for rate limits by address.",
    ),
    # Checkboxes (the Dashboard shows them after every text field) -------------
    FieldSpec(
        "tracking_enabled",
        "trackingEnabled",
        "boolean",
        True,
        "Tracking · Record shopper behaviour",
        "Record views, cart changes and purchases from Saleor events. Switching it off stops "
        "new data; existing data stays until a customer is erased.",
    ),
    FieldSpec(
        "track_anonymous",
        "trackingAnonymous",
        "boolean",
        True,
        "Tracking · Also record anonymous shoppers",
        "Record guests by checkout or storefront id; merged into the customer on login or order.",
    ),
    FieldSpec(
        "exclude_out_of_stock",
        "recommendationsHideOutOfStock",
        "boolean",
        True,
        "Recommendations · Hide out-of-stock products",
        "Never recommend a product with no stock in the channel.",
    ),
    FieldSpec(
        "exclude_in_cart",
        "recommendationsHideInCart",
        "boolean",
        True,
        "Recommendations · Hide products already in the cart",
        "Leave out what the shopper already has in the current checkout.",
    ),
    FieldSpec(
        "abandoned_include_offer",
        "emailsIncludeOffer",
        "boolean",
        True,
        "Emails · Offer in the last step",
        "Put the customer's live segment offer code (e.g. the frequent-abandoner incentive) "
        "in the last email, when they have one.",
    ),
    FieldSpec(
        "abandoned_require_consent",
        "emailsRequireConsent",
        "boolean",
        True,
        "Emails · Only with marketing consent",
        "Send only to customers who gave marketing consent (GraphQL marketingConsentUpdate or "
        "the consent metadata key). Off: send to every shopper who did not unsubscribe.",
    ),
    FieldSpec(
        "single_endpoint",
        "apiOnSaleorGraphql",
        "boolean",
        False,
        "API · Also serve the queries on Saleor's /graphql/",
        "Adds the personalization fields to Saleor's own schema when Saleor starts (restart "
        "to apply). Saleor has no supported hook for this; a Saleor upgrade may need a plugin "
        "upgrade. The plugin endpoint /plugins/global/<id>/graphql/ always works.",
    ),
    # Password fields (the Dashboard shows them on a card of their own) --------
    FieldSpec(
        "smtp_password",
        "emailsSmtpPassword",
        "password",
        "",
        "Emails · SMTP password",
        "Password for the SMTP user.",
    ),
)

FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
FIELDS_BY_ATTR = {spec.attr: spec for spec in FIELDS}
# The read-only fields the plugin fills with its status (saleor_adapter.admin_status).
STATUS_FIELD = FIELDS_BY_ATTR["model_status"].name
STATUS_SEGMENTS_FIELD = "statusSegments"
STATUS_OFFERS_FIELD = "statusOffers"
STATUS_EMAILS_FIELD = "statusEmails"
STATUS_RECOMMENDATIONS_FIELD = "statusRecommendations"
STATUS_FIELDS = (
    STATUS_FIELD,
    STATUS_SEGMENTS_FIELD,
    STATUS_OFFERS_FIELD,
    STATUS_EMAILS_FIELD,
    STATUS_RECOMMENDATIONS_FIELD,
)
# Names saved before the settings were regrouped (0.1): the snake_case attribute names.
LEGACY_NAMES = {spec.attr: spec.name for spec in FIELDS if spec.attr != spec.name}
# Checkboxes folded into the value they switched (migration 0013_folded_switches), by
# their Dashboard name: the setting that now carries each, and its default back then.
FOLDED_SWITCHES: dict[str, tuple[str, bool]] = {
    "recommendationsSessionEnabled": ("recommendationsSessionWeight", True),
    "offersWinbackEnabled": ("offersWinbackVoucher", False),
    "offersAbandonerEnabled": ("offersAbandonerVoucher", False),
    "emailsEnabled": ("emailsRecoveryUrl", False),
    "emailsViaSmtp": ("emailsDelivery", True),
    "emailsNotifyEvent": ("emailsDelivery", True),
    "emailsSmtpStarttls": ("emailsSmtpSecurity", True),
    "emailsSmtpSsl": ("emailsSmtpSecurity", False),
}
# Their 0.1 names.
FOLDED_SWITCHES_01 = {
    "session_enabled": "recommendationsSessionEnabled",
    "winback_enabled": "offersWinbackEnabled",
    "abandoner_offer_enabled": "offersAbandonerEnabled",
    "abandoned_emails_enabled": "emailsEnabled",
    "email_send_via_smtp": "emailsViaSmtp",
    "email_emit_notify_event": "emailsNotifyEvent",
    "smtp_use_tls": "emailsSmtpStarttls",
    "smtp_use_ssl": "emailsSmtpSsl",
}
# Switches read together: in a saved row, one of a group missing had its default.
_SWITCH_GROUPS = (
    ("emailsEnabled", "emailsViaSmtp", "emailsNotifyEvent"),
    ("emailsSmtpStarttls", "emailsSmtpSsl"),
)
# The session weight for "session on" when the weight was 0, which used to mean
# "visitors follow their session, customers' lists stay as they are": the session stays
# on (weight 0 now switches it off) and customers' lists all but unchanged.
SESSION_WEIGHT_ON = "0.01"
_FORM_ORDER = {spec.name: position for position, spec in enumerate(FIELDS)}


def in_form_order(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Items in the order of :data:`FIELDS`, unknown names last.

    Saleor shows a saved configuration in its stored order and appends settings it lacks,
    so a row saved by an older version would show this version's settings out of order.
    """
    return sorted(
        (dict(item) for item in items),
        key=lambda item: _FORM_ORDER.get(item.get("name"), len(_FORM_ORDER)),
    )


def _renamed(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """0.1 names renamed; an old-named item is dropped when its new name is present."""
    renames = {**LEGACY_NAMES, **FOLDED_SWITCHES_01}
    items = [dict(item) for item in items]
    present = {item.get("name") for item in items}
    renamed = []
    for item in items:
        new_name = renames.get(item.get("name"))
        if new_name is None:
            renamed.append(item)
        elif new_name not in present:
            renamed.append({**item, "name": new_name})
            present.add(new_name)
    return renamed


def _switches(raw: Mapping[str, Any], update: bool) -> dict[str, bool | None]:
    """The old checkboxes' values; None for "not given".

    In an update ``None`` is not given (Saleor skips it) and an unreadable value is
    refused, naming the setting that replaced it. A saved row is read as the version
    that saved it read it: a switch missing from a group that is present, ``None`` or
    unreadable has its default.
    """
    switches: dict[str, bool | None] = {}
    for name, value in raw.items():
        text = str(value).strip().lower()
        if isinstance(value, bool):
            switches[name] = value
        elif value is not None and text in _TRUE | _FALSE:
            switches[name] = text in _TRUE
        elif not update:
            switches[name] = FOLDED_SWITCHES[name][1]
        elif value is not None:
            raise ConfigurationError(
                FOLDED_SWITCHES[name][0],
                f"{name!r} (an old setting) is {value!r}, not true or false",
            )
    if not update:
        for group in _SWITCH_GROUPS:
            if any(name in switches for name in group):
                for name in group:
                    switches.setdefault(name, FOLDED_SWITCHES[name][1])
    return switches


def _choice(values: Mapping[str, Any], name: str) -> str:
    spec = FIELDS_BY_NAME[name]
    value = values.get(name)
    text = _normalized_choice(spec.default if value is None else value)
    return text if text in spec.choices else spec.default


def _folded(
    switches: Mapping[str, bool | None], values: Mapping[str, Any], given: set[str], update: bool
) -> dict[str, Any]:
    """The values that carry the old checkboxes' meaning.

    ``values``: every setting as it will be saved; ``given``: those in the same list as
    the switches, which win over the switches folded into them.
    """
    changes: dict[str, Any] = {}

    def filled(name: str) -> bool:
        value = values.get(name)
        return bool(str(FIELDS_BY_NAME[name].default if value is None else value).strip())

    for switch, feature in (
        ("offersWinbackEnabled", "win-back offers start"),
        ("offersAbandonerEnabled", "the frequent-abandoner incentive starts"),
        ("emailsEnabled", "abandoned-checkout emails start"),
    ):
        on, target = switches.get(switch), FOLDED_SWITCHES[switch][0]
        if on and update and not filled(target):
            raise ConfigurationError(
                target,
                f"{feature} when this is filled in ({switch!r} is no longer a setting); fill "
                "it in, or leave the switch out",
            )
        if on is False and switch != "emailsEnabled":
            changes[target] = ""

    session = switches.get("recommendationsSessionEnabled")
    if session is False:
        changes["recommendationsSessionWeight"] = "0"
    elif session:
        weight = values.get("recommendationsSessionWeight")
        try:
            weight = float(
                str(FIELDS_BY_ATTR["session_weight"].default if weight is None else weight)
            )
        except ValueError:
            weight = None  # refused by the parser with the setting's own message
        if weight == 0:
            changes["recommendationsSessionWeight"] = SESSION_WEIGHT_ON

    emails, smtp, app = (switches.get(n) for n in _SWITCH_GROUPS[0])
    if "emailsDelivery" not in given and {emails, smtp, app} != {None}:
        current = _choice(values, "emailsDelivery")
        if emails is False or (current == "none" and not emails):
            # Off; or paused, and the delivery switches alone never started emails.
            changes["emailsDelivery"] = "none"
        else:
            base = ("smtp+app" if current == "none" else current).split("+")
            via = [
                part
                for part, on in (("smtp", smtp), ("app", app))
                if (part in base if on is None else on)
            ]
            changes["emailsDelivery"] = "+".join(via) or "none"

    tls, ssl = (switches.get(n) for n in _SWITCH_GROUPS[1])
    if "emailsSmtpSecurity" not in given and {tls, ssl} != {None}:
        current = _choice(values, "emailsSmtpSecurity")
        tls = current == "starttls" if tls is None else tls
        ssl = current == "ssl" if ssl is None else ssl
        changes["emailsSmtpSecurity"] = "ssl" if ssl else "starttls" if tls else "none"
    return changes


def upgrade_items(
    items: Iterable[Mapping[str, Any]],
    current: Iterable[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Saleor's item list in this version's names and form order.

    A configuration saved by an older version keeps its meaning: the migrations
    ``0007_dashboard`` and ``0013_folded_switches`` rewrite stored rows once, and the
    plugin applies this to what Saleor hands it, so a row or a ``pluginUpdate`` written
    later under an old name (an older script, a fixture) still counts. 0.1 names are
    renamed (the new name wins when both are present), and the checkboxes folded into
    values become those values: a win-back or frequent-abandoner switch that is off
    empties its voucher code, the emails switch off sets the delivery to ``none``, the
    session switch off sets the weight to 0 (on, with weight 0: 0.01), and the delivery
    and SMTP security checkboxes become their choice.

    ``items`` is a saved configuration; or, with ``current`` (the saved configuration,
    already upgraded), a ``pluginUpdate``'s items. Then a switch left out leaves its
    value as it is, and a switch turned on while the value that now starts its feature
    is empty is refused with a :class:`ConfigurationError` naming that setting: the
    script meant to start the feature, and saving would silently leave it off.
    """
    update = current is not None
    items = _renamed(items)
    raw = {item["name"]: item.get("value") for item in items if item.get("name") in FOLDED_SWITCHES}
    items = [item for item in items if item.get("name") not in FOLDED_SWITCHES]
    switches = _switches(raw, update)
    if switches:
        given = {item.get("name") for item in items}
        values = {item["name"]: item.get("value") for item in current or ()}
        values.update(
            (item["name"], item.get("value")) for item in items if item.get("value") is not None
        )
        for name, value in _folded(switches, values, given, update).items():
            item = next((item for item in items if item.get("name") == name), None)
            if item is None:
                items.append({"name": name, "value": value})
            else:
                item["value"] = value
    if update:
        items = [_checked_boolean(item) for item in items]
    return in_form_order(items)


def _checked_boolean(item: dict[str, Any]) -> dict[str, Any]:
    """A checkbox's value as a boolean, or refused: Saleor stores every string but
    ``"true"`` as false, so ``"maybe"`` (or ``"yes"``) would silently switch it off."""
    spec = FIELDS_BY_NAME.get(item.get("name"))
    value = item.get("value")
    if spec is None or spec.kind != "boolean" or value is None or isinstance(value, bool):
        return item
    return {**item, "value": _parse_boolean(spec, value)}


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _parse_boolean(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(spec.name, f"{value!r} is not true or false")


def _parse_number(spec: FieldSpec, value: Any, cast: Callable[[str], Any]) -> Any:
    text = str(value).strip()
    try:
        number = cast(text)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigurationError(spec.name, f"{value!r} is not {kind}") from None
    if not math.isfinite(number):
        # NaN passes every comparison, so a guardrail set to it would never hold.
        raise ConfigurationError(spec.name, f"{value!r} is not a number")
    if spec.minimum is not None and number < spec.minimum:
        raise ConfigurationError(spec.name, f"{number} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ConfigurationError(spec.name, f"{number} is above the maximum {spec.maximum:g}")
    return number


def _parse_steps(spec: FieldSpec, value: Any) -> tuple[int, ...]:
    text = str(value).strip()
    try:
        hours = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError(
            spec.name, f"{text!r} is not a list of whole hours like 1,24,72"
        ) from None
    if not 1 <= len(hours) <= 3:
        raise ConfigurationError(spec.name, "give one to three steps, e.g. 1,24,72")
    if hours[0] < 1 or any(b <= a for a, b in pairwise(hours)):
        raise ConfigurationError(spec.name, "steps must be increasing hours from 1, e.g. 1,24,72")
    if hours[-1] > 24 * 30:
        raise ConfigurationError(spec.name, "the last step must be within 720 hours (30 days)")
    return hours


def _parse_url_template(spec: FieldSpec, value: Any) -> str:
    text = str(value).strip()
    has_placeholder = any(placeholder in text for placeholder in spec.placeholders)
    if text and (not has_placeholder or not text.startswith(("https://", "http://"))):
        example = spec.placeholders[0]
        wanted = " or ".join(spec.placeholders)
        raise ConfigurationError(
            spec.name,
            f"must be an http(s) URL containing {wanted}, e.g. https://shop.example.com/"
            f"{'products' if example != '{token}' else 'cart'}/{example}",
        )
    return text


def _parse_networks(spec: FieldSpec, value: Any) -> tuple[str, ...]:
    """Addresses or CIDR networks, normalised (``10.0.0.1`` → ``10.0.0.1/32``)."""
    networks = []
    for part in str(value).replace("\n", ",").split(","):
        if not part.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise ConfigurationError(
                spec.name, f"{part.strip()!r} is not an IP address or network like 10.0.0.0/8"
            ) from None
    return tuple(networks)


METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_METADATA_KEYS = 10


def _parse_keys(spec: FieldSpec, value: Any) -> tuple[str, ...]:
    """Metadata keys, in the order given, without repeats."""
    keys: list[str] = []
    for part in str(value).replace("\n", ",").split(","):
        key = part.strip()
        if not key:
            continue
        if not METADATA_KEY.match(key):
            raise ConfigurationError(
                spec.name,
                f"{key!r} is not a metadata key (letters, digits and _ . : - up to 64 "
                "characters, separated by commas)",
            )
        if key not in keys:
            keys.append(key)
    if len(keys) > MAX_METADATA_KEYS:
        raise ConfigurationError(spec.name, f"give at most {MAX_METADATA_KEYS} keys")
    return tuple(keys)


def _normalized_choice(value: Any) -> str:
    return "".join(str(value).split()).lower()


def _parse_choice(spec: FieldSpec, value: Any) -> str:
    text = _normalized_choice(value)
    if text not in spec.choices:
        raise ConfigurationError(spec.name, f"{value!r} is not one of {', '.join(spec.choices)}")
    return text


def _has_control_characters(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _check_sender_name(spec: FieldSpec, text: str) -> str:
    """A display name for the From header: one line, no control characters.

    A line break would add headers to every email (``Bcc:``), and Django refuses such a
    header only when the message is built, which is too late to tell the admin.
    """
    text = text.strip()
    if _has_control_characters(text):
        raise ConfigurationError(spec.name, "must be one line without control characters")
    if len(text) > 200:
        raise ConfigurationError(spec.name, "must be at most 200 characters")
    return text


def _check_address(spec: FieldSpec, text: str) -> str:
    """A bare email address (``shop@example.com``), as the From header needs it."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    text = text.strip()
    if not text:
        return text
    try:
        if _has_control_characters(text):
            raise ValidationError("control character")
        validate_email(text)
    except ValidationError:
        raise ConfigurationError(
            spec.name, f"{text!r} is not an email address like shop@example.com"
        ) from None
    return text


def _check_metadata_key(spec: FieldSpec, text: str) -> str:
    """One metadata key, or empty (documented: consent only through the API)."""
    text = text.strip()
    if text and not METADATA_KEY.match(text):
        raise ConfigurationError(
            spec.name, f"{text!r} is not a metadata key (letters, digits and _ . : - up to 64)"
        )
    return text


# Text settings whose value must have a shape; the rest are free text.
TEXT_CHECKS: dict[str, Callable[[FieldSpec, str], str]] = {
    "sender_name": _check_sender_name,
    "sender_address": _check_address,
    "consent_metadata_key": _check_metadata_key,
}


def parse_value(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        value = spec.default
    if spec.attr in TEXT_CHECKS:
        return TEXT_CHECKS[spec.attr](spec, str(value))
    if spec.kind == "keys":
        return _parse_keys(spec, value)
    if spec.kind == "networks":
        return _parse_networks(spec, value)
    if spec.kind == "steps":
        return _parse_steps(spec, value)
    if spec.kind == "url_template":
        return _parse_url_template(spec, value)
    if value is spec.default:
        return spec.default
    if spec.kind == "boolean":
        return _parse_boolean(spec, value)
    if spec.kind == "int":
        return _parse_number(spec, value, int)
    if spec.kind == "float":
        return _parse_number(spec, value, float)
    if spec.kind == "choice":
        return _parse_choice(spec, value)
    return str(value)


@dataclass(frozen=True)
class PersonalizationConfig:
    tracking_enabled: bool = True
    track_anonymous: bool = True
    training_interval_hours: int = 24
    list_size: int = 50
    exclude_out_of_stock: bool = True
    exclude_in_cart: bool = True
    recently_bought_days: int = 30
    customer_attribute_keys: tuple[str, ...] = ()
    max_per_category: int = 3
    session_weight: float = 0.3
    session_hours: int = 24
    session_events: int = 20
    lapse_days: int = 300
    abandoner_min_carts: int = 3
    consent_metadata_key: str = "marketing_consent"
    max_offer_percent: int = 30
    max_offer_amount: float = 50.0
    offer_validity_days: int = 14
    offer_frequency_days: int = 30
    offer_holdout_percent: int = 10
    winback_voucher: str = ""
    abandoner_voucher: str = ""
    abandoned_scan_minutes: int = 15
    abandoned_step_hours: tuple[int, ...] = (1, 24, 72)
    abandoned_include_offer: bool = True
    abandoned_require_consent: bool = True
    abandoned_recovery_url: str = ""
    storefront_product_url: str = ""
    abandoned_recommendations: int = 4
    abandoned_max_age_days: int = 14
    email_subject_template: str = ""
    email_body_template: str = ""
    email_delivery: str = "smtp+app"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"
    sender_name: str = ""
    sender_address: str = ""
    track_rate_limit: int = 120
    graphql_max_cost: int = 5000
    trusted_proxies: tuple[str, ...] = ()
    single_endpoint: bool = False
    model_status: str = "No model trained yet."

    # The switches of earlier versions, now implied by a value (read-only, so code and
    # clients that read them keep working; set the value instead).
    @property
    def session_enabled(self) -> bool:
        return self.session_weight > 0

    @property
    def winback_enabled(self) -> bool:
        return bool(self.winback_voucher.strip())

    @property
    def abandoner_offer_enabled(self) -> bool:
        return bool(self.abandoner_voucher.strip())

    @property
    def abandoned_emails_enabled(self) -> bool:
        return bool(self.abandoned_recovery_url) and self.email_delivery != "none"

    @property
    def email_send_via_smtp(self) -> bool:
        return self.email_delivery in ("smtp", "smtp+app")

    @property
    def email_emit_notify_event(self) -> bool:
        return self.email_delivery in ("app", "smtp+app")

    @property
    def smtp_use_tls(self) -> bool:
        return self.smtp_security == "starttls"

    @property
    def smtp_use_ssl(self) -> bool:
        return self.smtp_security == "ssl"


def parse_configuration(
    items: Iterable[Mapping[str, Any]] | Mapping[str, Any],
) -> PersonalizationConfig:
    """Typed settings from Saleor's item list (or a plain mapping); unknown names are ignored.

    Older names are accepted as :func:`upgrade_items` reads them: the 0.1 names, which
    are the attribute names (``list_size``), and the checkboxes since folded into values
    (``offersWinbackEnabled``); the Dashboard name wins.
    """
    if isinstance(items, Mapping):
        items = [{"name": name, "value": value} for name, value in items.items()]
    raw = {item["name"]: item.get("value") for item in upgrade_items(items)}
    values = {}
    for field in fields(PersonalizationConfig):
        spec = FIELDS_BY_ATTR[field.name]
        values[field.name] = parse_value(spec, raw.get(spec.name))
    return PersonalizationConfig(**values)


def default_configuration() -> list[dict[str, Any]]:
    """Saleor's ``DEFAULT_CONFIGURATION`` list."""
    return [
        {"name": spec.name, "value": spec.default if spec.kind == "boolean" else str(spec.default)}
        for spec in FIELDS
    ]
