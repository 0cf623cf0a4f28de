"""Segment offers: who gets a personal voucher code, who is held out, who redeemed.

The core works on plain campaign descriptions and a :class:`VoucherCodes` port; the
Saleor side (reading targeted vouchers, writing ``VoucherCode`` rows) lives in
``saleor_adapter.vouchers``.
"""
