"""Erasing a customer removes their offers and the codes they never used."""

from ..events.erasure import ErasureRequest, register_eraser
from ..models import SegmentOffer
from ..shop import get_shop


@register_eraser
def erase_offers(request: ErasureRequest) -> dict[str, int]:
    offers = SegmentOffer.objects.filter(customer_id=request.customer_id)
    unused = list(
        offers.filter(redeemed_at__isnull=True, code__isnull=False).values_list("code", flat=True)
    )
    deleted_codes = get_shop().vouchers.codes().delete_unused(unused) if unused else 0
    deleted, _ = offers.delete()
    return {"offers": deleted, "voucher_codes": deleted_codes}
