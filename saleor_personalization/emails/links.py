"""Signed links in emails: open pixel, tracked clicks and unsubscribe.

Each link carries a signed payload (Django signing, ``SECRET_KEY``). A click link
also signs its target, so the redirect can never be abused to send people elsewhere
(no open redirect). An unsubscribe link carries no address: it names the email row
and the hash of the address it went to, and it expires, so a forwarded or leaked
email neither reveals the address nor works for ever.
"""

import hashlib
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

_OPEN = signing.Signer(salt="saleor_personalization.email.open")
_CLICK = signing.Signer(salt="saleor_personalization.email.click")
_UNSUBSCRIBE = signing.TimestampSigner(salt="saleor_personalization.email.unsubscribe.v2")
# Links of earlier versions carried the plain address and no date; they answer as expired.
_LEGACY_UNSUBSCRIBE = signing.Signer(salt="saleor_personalization.email.unsubscribe")

PLUGIN_PREFIX = "email"
# Generous: a shopper may find a reminder months later; README states the window.
UNSUBSCRIBE_LINK_VALID = timedelta(days=90)


class BadLink(ValueError):
    pass


class ExpiredLink(BadLink):
    pass


_RECIPIENT_SALT = "saleor_personalization.email.recipient"


def email_hash(address: str) -> str:
    """A keyed hash of a recipient address (HMAC-SHA256 with ``SECRET_KEY``).

    Keyed, like the profiles' ``email_digest``, so a leaked table or unsubscribe link
    cannot be matched against a list of known addresses by hashing them.
    """
    return salted_hmac(
        _RECIPIENT_SALT, address.strip().lower(), secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def legacy_email_hash(address: str) -> str:
    """The plain SHA-256 earlier versions stored (and put in unsubscribe links).

    Opt-outs and email rows recorded under it cannot be rehashed without the address,
    so lookups and erasure use both forms.
    """
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def email_hashes(address: str) -> tuple[str, str]:
    """Both forms of an address's hash: the keyed one, then the legacy plain one."""
    return email_hash(address), legacy_email_hash(address)


def open_url(base: str, email_id: int) -> str:
    return f"{base}/{PLUGIN_PREFIX}/open/{_OPEN.sign(str(email_id))}/pixel.gif"


def click_url(base: str, email_id: int, target: str) -> str:
    token = _CLICK.sign_object({"e": email_id, "u": target}, compress=True)
    return f"{base}/{PLUGIN_PREFIX}/click/{quote(token, safe=':')}/"


def unsubscribe_url(base: str, email_id: int, address_hash: str) -> str:
    token = _UNSUBSCRIBE.sign_object({"e": email_id, "h": address_hash})
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


def read_unsubscribe(token: str) -> tuple[int, str]:
    """The email row id and the address hash; ExpiredLink after the validity window."""
    try:
        data = _UNSUBSCRIBE.unsign_object(token, max_age=UNSUBSCRIBE_LINK_VALID)
        return int(data["e"]), str(data["h"])
    except signing.SignatureExpired as error:
        raise ExpiredLink("this link has expired") from error
    except (signing.BadSignature, ValueError, KeyError, TypeError) as error:
        if _is_legacy_unsubscribe(token):
            raise ExpiredLink("this link is from an earlier version") from error
        raise BadLink("not a link of this shop") from error


def _is_legacy_unsubscribe(token: str) -> bool:
    try:
        _LEGACY_UNSUBSCRIBE.unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return True
