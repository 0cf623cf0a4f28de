"""A mix of the two personal lists, as ``personalizedProducts(discoveryShare)`` serves it.

Its own module so that the resolver and ``benchmarks/session.py`` deal places the
same way.
"""

import math
from collections.abc import Sequence

from ..models import ListEntry


def mix(for_you: Sequence[ListEntry], buy_again: Sequence[ListEntry], share: float) -> list:
    """The two personal lists interleaved, ``share`` of the places from *for you*.

    Places are dealt in order: the n-th goes to discovery while discovery has fewer than
    ``share * n`` places, rounded half up (so 0.5 alternates starting with *for you*,
    0.3 gives three of every ten to discovery starting with *buy again*, and every
    prefix of the mix is as close to the share as whole places allow); a product on
    both lists takes its first place. When one list runs out the other fills the rest.
    The shopper rules come after the mix: what they leave out (a recent purchase, a
    product out of stock) or move (the category spread) shifts the served places.
    """
    if share >= 1:
        return list(for_you)
    if share <= 0:
        return list(buy_again)
    out: list[ListEntry] = []
    seen: set[int] = set()
    queues = {True: list(for_you), False: list(buy_again)}
    taken = {True: 0, False: 0}
    while queues[True] or queues[False]:
        position = len(out) + 1
        discover = taken[True] < math.floor(share * position + 0.5) if queues[True] else False
        if not queues[discover]:
            discover = not discover
        entry = queues[discover].pop(0)
        if entry.product_id in seen:
            continue
        seen.add(entry.product_id)
        taken[discover] += 1
        out.append(entry)
    return out
