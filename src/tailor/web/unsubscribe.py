"""``GET``/``POST /v1/unsubscribe/<token>``: RFC 8058 one-click unsubscribe.

``POST`` with the body ``List-Unsubscribe=One-Click`` (what Gmail, Yahoo and Apple Mail
send, with no cookies) records a suppression and answers 200. ``GET`` — a person
following the link, or a mail scanner prefetching it — only shows a page with a button
that makes that POST: a prefetch must never unsubscribe anybody. The token is the only
credential (:mod:`tailor.delivery.unsubscribe`): the route is public in the auth policy,
and a forged or edited token gets a problem+json 404, the same answer as a token of
another store, so nothing can be learnt by trying.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from tailor.delivery.unsubscribe import ONE_CLICK, BadToken, Unsubscribe
from tailor.store import Store
from tailor.web.problem import problem

REASON = "unsubscribe"
SOURCE = "list-unsubscribe"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font:inherit;padding:.6rem 1.2rem;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def create_unsubscribe_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("unsubscribe", __name__)
    links = Unsubscribe(store)

    def _verified(token: str) -> str | Response:
        try:
            return links.verify(token)
        except BadToken:
            return problem(404, "unknown-unsubscribe-link", detail="this unsubscribe link is not valid")

    @bp.get("/v1/unsubscribe/<token>")
    def confirm(token: str) -> Response:
        checked = _verified(token)
        if isinstance(checked, Response):
            return checked
        # the token is checked above: only URL-safe base64 characters reach the page
        body = (
            "<p>Stop receiving marketing emails at this address?</p>"
            f'<form method="post" action="/v1/unsubscribe/{token}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>'
        )
        return _page("Unsubscribe", body)

    @bp.post("/v1/unsubscribe/<token>")
    def unsubscribe(token: str) -> Response:
        checked = _verified(token)
        if isinstance(checked, Response):
            return checked
        if request.form.get("List-Unsubscribe") != ONE_CLICK.split("=", 1)[1]:
            return problem(
                400, "invalid-input", detail=f"the body must be {ONE_CLICK} (RFC 8058)", pointer="List-Unsubscribe"
            )
        if store.is_suppressed(email_hash=checked) != REASON:  # a repeated POST records nothing new
            store.add_suppression(email_hash=checked, reason=REASON, source=SOURCE)
        return _page("You are unsubscribed", "<p>You will not receive marketing emails at this address any more.</p>")

    return bp


def _page(title: str, body: str) -> Response:
    response = Response(_PAGE.format(title=title, body=body), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
