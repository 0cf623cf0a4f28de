"""The standalone GraphiQL page works without internet access.

Its JavaScript and CSS ship in the package and the standalone server serves them;
the page names no other host. Chromium, with every host but loopback made
unresolvable, must get past "Loading GraphiQL…" to the editor.
"""

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from saleor_personalization.standalone.graphql_view import GRAPHIQL_ASSETS, GRAPHIQL_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


class References(HTMLParser):
    """Every URL the page makes the browser load (scripts, styles, images, frames)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "img", "iframe"} and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def _page(client) -> str:
    response = client.get("/graphql/", **HTML)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_page_and_every_asset_it_names_come_from_the_standalone_server(client):
    html = _page(client)
    assert "://" not in html, "the page names an external URL"
    parser = References()
    parser.feed(html)
    assert len(parser.urls) == 4, parser.urls
    served = set()
    for url in parser.urls:
        assert url.startswith("/graphql/assets/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        name = url.rsplit("/", 1)[1]
        assert response["Content-Type"] == GRAPHIQL_ASSETS[name]
        body = b"".join(response.streaming_content)
        assert body == (GRAPHIQL_DIR / name).read_bytes()
        served.add(name)
    assert served == set(GRAPHIQL_ASSETS)


@pytest.mark.parametrize(
    "name", ["LICENSE.graphiql", "README.md", "..%2F..%2Fsettings.py", "graphql_view.py"]
)
def test_only_the_listed_assets_are_served(client, name):
    assert client.get(f"/graphql/assets/{name}").status_code == 404


def test_assets_ship_with_their_licences():
    for name in ("LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom", "README.md"):
        assert (GRAPHIQL_DIR / name).is_file(), name
    assert "MIT License" in (GRAPHIQL_DIR / "LICENSE.graphiql").read_text()


@pytest.mark.django_db(transaction=True)
def test_graphiql_starts_in_chromium_with_no_network_but_loopback(live_server, tmp_path: Path):
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: `make test` installs it (apt package 'chromium').")
    # Chromium may resolve "localhost" to ::1; the live server listens on IPv4.
    url = live_server.url.replace("localhost", "127.0.0.1") + "/graphql/"
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        # Offline, as far as the page can tell: no host but the server resolves.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "graphiql-container" in dom, dom[:2000]
    assert "Loading GraphiQL" not in dom
    assert "CodeMirror-line" in dom  # the query editor is drawn
