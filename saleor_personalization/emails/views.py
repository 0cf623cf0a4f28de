"""The email links' endpoints: open pixel, click redirect, unsubscribe page.

Served by the plugin's ``webhook`` inside Saleor and by the standalone URLs. An
unsubscribe needs a POST (the page's button, or RFC 8058 one-click from the mail
client), so link scanners that fetch every URL cannot unsubscribe anyone. The page
never shows the address (the link does not carry it); an expired link answers 410
with a page that says so.
"""

import base64
import html

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone

from .links import BadLink, ExpiredLink, read_click, read_open, read_unsubscribe
from .strings import strings_for
from .tracking import record_click, record_open, unsubscribe

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:Helvetica,Arial,sans-serif;max-width:520px;margin:48px auto;"
        f"padding:0 16px;color:#18181b'>{body}</body></html>"
    )
    return HttpResponse(page, status=status, content_type="text/html; charset=utf-8")


def email_endpoint(request: HttpRequest, path: str) -> HttpResponse:
    """Route ``email/<kind>/<token>/...`` (the part after the plugin's URL)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] != "email":
        return _page("Not found", "<p>Not found.</p>", 404)
    kind, token = parts[1], parts[2]
    now = timezone.now()
    try:
        if kind == "open":
            record_open(read_open(token), now)
            response = HttpResponse(PIXEL, content_type="image/gif")
            response["Cache-Control"] = "no-store"
            return response
        if kind == "click":
            email_id, target = read_click(token)
            record_click(email_id, now)
            return HttpResponseRedirect(target)
        if kind == "unsubscribe":
            language = request.GET.get("lang", "")
            strings = strings_for(language or request.headers.get("Accept-Language", ""))
            try:
                email_id, address_hash = read_unsubscribe(token)
            except ExpiredLink:
                return _page(
                    strings["unsubscribe"],
                    f"<p>{html.escape(strings['unsubscribe_expired'])}</p>",
                    410,
                )
            if request.method == "POST":
                unsubscribe(email_id, address_hash, now)
                return _page(
                    strings["unsubscribe"], f"<p>{html.escape(strings['unsubscribed'])}</p>"
                )
            return _page(
                strings["unsubscribe"],
                f"<p>{html.escape(strings['unsubscribe_confirm'])}</p><form method='post'>"
                f"<button type='submit' style='font-size:16px;padding:10px 20px'>"
                f"{html.escape(strings['unsubscribe_button'])}</button></form>",
            )
    except BadLink:
        return _page("Invalid link", "<p>This link is not valid.</p>", 400)
    return _page("Not found", "<p>Not found.</p>", 404)
