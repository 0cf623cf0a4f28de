"""Signed links in emails: open pixel, tracked clicks and unsubscribe.

Each link carries a signed payload (Django signing, ``SECRET_KEY``): the email's id,
or the address to unsubscribe. A click link also signs its target, so the redirect
can never be abused to send people elsewhere (no open redirect).
"""

import hashlib
from urllib.parse import quote

from django.core import signing

_OPEN = signing.Signer(salt="saleor_personalization.email.open")
_CLICK = signing.Signer(salt="saleor_personalization.email.click")
_UNSUBSCRIBE = signing.Signer(salt="saleor_personalization.email.unsubscribe")

PLUGIN_PREFIX = "email"


class BadLink(ValueError):
    pass


def email_hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def open_url(base: str, email_id: int) -> str:
    return f"{base}/{PLUGIN_PREFIX}/open/{_OPEN.sign(str(email_id))}/pixel.gif"


def click_url(base: str, email_id: int, target: str) -> str:
    token = _CLICK.sign_object({"e": email_id, "u": target}, compress=True)
    return f"{base}/{PLUGIN_PREFIX}/click/{quote(token, safe=':')}/"


def unsubscribe_url(base: str, address: str, customer_id: int | None) -> str:
    token = _UNSUBSCRIBE.sign_object({"a": address.strip().lower(), "c": customer_id})
    return f"{base}/{PLUGIN_PREFIX}/unsubscribe/{quote(token, safe=':')}/"


def read_open(token: str) -> int:
    try:
        return int(_OPEN.unsign(token))
    except (signing.BadSignature, ValueError) as error:
        raise BadLink("not a link of this shop") from error


def read_click(token: str) -> tuple[int, str]:
    try:
        data = _CLICK.unsign_object(token)
        return int(data["e"]), str(data["u"])
    except (signing.BadSignature, ValueError, KeyError, TypeError) as error:
        raise BadLink("not a link of this shop") from error


def read_unsubscribe(token: str) -> tuple[str, int | None]:
    try:
        data = _UNSUBSCRIBE.unsign_object(token)
        return str(data["a"]), data.get("c")
    except (signing.BadSignature, ValueError, KeyError, TypeError) as error:
        raise BadLink("not a link of this shop") from error
