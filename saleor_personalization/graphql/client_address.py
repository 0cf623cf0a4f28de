"""The client's address for rate limits: forwarded headers only from trusted proxies.

``X-Forwarded-For`` is written by whoever sends the request. Believed blindly, a
script rotates it to get a fresh budget per request, or names a real shopper's
address to exhaust theirs. It is read only when the connection itself comes from a
proxy the admin listed ("Trusted proxy addresses"), and then from the right: each
trusted proxy appends the address it saw, so the first untrusted entry from the
right is the client as seen by the outermost trusted proxy.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(meta: Mapping[str, str], trusted_proxies: tuple[str, ...]) -> str:
    """``REMOTE_ADDR``, or the forwarded client when the connection is a trusted proxy."""
    remote = meta.get("REMOTE_ADDR", "") or ""
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(_address(remote), networks):
        return remote
    hops = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    client = remote
    for hop in reversed([hop for hop in hops if hop]):
        address = _address(hop)
        if address is None:
            break  # garbage in the header: stop at the last address a proxy vouched for
        client = str(address)
        if not _trusted(address, networks):
            break
    return client
