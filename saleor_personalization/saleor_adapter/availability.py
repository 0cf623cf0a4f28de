"""Whether this process runs inside Saleor."""

from functools import cache


@cache
def saleor_available() -> bool:
    try:
        import saleor.plugins  # noqa: F401
    except ImportError:
        return False
    return True
