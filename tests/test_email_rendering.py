"""The HTML email in headless Chromium: images load, prices and the button show."""

import http.server
import shutil
import struct
import subprocess
import threading
import zlib
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from saleor_personalization.configuration import parse_configuration
from saleor_personalization.emails.render import render_email
from saleor_personalization.emails.sequence import create_due
from saleor_personalization.models import (
    CartState,
    CustomerProfile,
    ItemChannel,
    ItemProfile,
    ListKind,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.standalone.email_source import StandaloneCheckoutSource

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHECK_IMAGES = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const ok = images.filter((i) => i.complete && i.naturalWidth > 0);
  document.title = `IMAGES ${ok.length}/${images.length}`;
  document.body.dataset.broken = images.filter((i) => !ok.includes(i)).map((i) => i.src).join(" ");
});
</script>
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def image_server(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for pk, colour in ((1, (30, 90, 200)), (2, (200, 40, 40)), (3, (40, 160, 80))):
        (folder / f"{pk}.png").write_bytes(png(160, 160, colour))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db(transaction=True)
def test_email_renders_in_chromium_with_images_prices_and_button(
    tmp_path, settings, live_server, image_server
):
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: `make test` installs it (apt package 'chromium').")
    # Chromium may resolve "localhost" to ::1; the live server listens on IPv4.
    settings.PERSONALIZATION_PUBLIC_URL = live_server.url.replace("localhost", "127.0.0.1")
    settings.PERSONALIZATION_PRODUCT_IMAGE_URL = f"{image_server}/{{id}}.png"
    now = timezone.now()
    for pk, name, price in ((1, "Blue Mug", "12.50"), (2, "Red Teapot", "30.00"), (3, "Tea", "6")):
        item = ItemProfile.objects.create(product_id=pk, name=name, price_amount=Decimal(price))
        ItemChannel.objects.create(
            item=item, channel="c", price_amount=Decimal(price), currency="EUR"
        )
    RecommendationList.objects.create(
        kind=ListKind.BOUGHT_TOGETHER,
        subject_type=SubjectType.PRODUCT,
        subject_id=1,
        entries=[{"product_id": 3, "score": 1.0, "reason": "Often bought with Blue Mug"}],
        generated_at=now,
    )
    CustomerProfile.objects.create(customer_id=5, marketing_consent=True)
    CartState.objects.create(
        token="tok",
        channel="c",
        customer_id=5,
        email="eve@example.com",
        language_code="en",
        lines={"v1": [1, 2], "v2": [2, 1]},
        last_change_at=now - timedelta(hours=2),
    )
    config = replace(
        parse_configuration({}),
        abandoned_recovery_url="https://shop.example.com/cart/{token}",
    )
    (email_id,) = create_due(now, config)
    source = StandaloneCheckoutSource()
    rendered = render_email(
        content=source.content("tok"),
        step=2,
        email_id=email_id,
        config=config,
        shop=source.shop(),
        recommendations=source.products([3], "c"),
    )
    page = tmp_path / "email.html"
    page.write_text(rendered.html.replace("</body>", CHECK_IMAGES + "</body>"), encoding="utf-8")
    screenshot = tmp_path / "email.png"
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=700,1500", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    # Two lines, one recommendation and the open pixel (served by the plugin's URL).
    assert "<title>IMAGES 4/4</title>" in dom, dom[:500]
    assert "25.00 EUR" in dom
    assert "30.00 EUR" in dom
    assert "Total: 55.00 EUR" in dom
    assert 'class="button"' in dom
    assert "Return to your cart" in dom
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one
    shutil.copy(screenshot, tmp_path.parent / "abandoned-email.png")
