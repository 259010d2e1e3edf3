"""One authentication policy for every route, enforced in one ``before_request`` hook.

Why one place: the routes used to check credentials each in their own way, and the
preview studio not at all, so a stored person's data could be read from a route that
had been forgotten. Now :data:`POLICY` says, per endpoint, which kinds of credential it
accepts, and :func:`install` puts one hook in front of every request; an endpoint with
no entry gets the send-time API's policy (never "open").

Who is trusted is decided per request from the **peer address** — the TCP peer, or,
when that peer is one of ``trusted_proxies``, the right-most ``X-Forwarded-For``
address that is not a trusted proxy — never from the address the server is bound to
(a loopback bind behind a reverse proxy sees every caller as loopback).

* No credential configured (no ``TAILOR_SECRET``, ``TAILOR_API_TOKENS`` or
  ``TAILOR_WRITE_KEYS``): the embedded/dev mode. Loopback peers are served; others get
  403, except on public routes (``/openapi.json``, the bare ``/healthz`` status) and ESP
  webhooks whose provider is configured (their own scheme authenticates them).
* Credentials configured: every route needs one of the kinds it accepts, from loopback
  too. Send-time, profile and metrics routes: a signature bound to the request or an API
  token. Ingestion: a write key. ESP webhooks: the provider's own scheme (verified by
  :mod:`tailor.web.esp`). The studio: an API token (HTTP basic auth, or a login form
  that sets a signed session cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from urllib.parse import quote, urlsplit

from flask import Flask, Request, g, redirect, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.wrappers import Response

from tailor.client import SIGNATURE_HEADER, SignatureError, verify
from tailor.config import Settings
from tailor.web.body import BadBody, json_body
from tailor.web.problem import problem


class Kind(StrEnum):
    """A kind of credential."""

    SIGNATURE = "signature"  # X-Tailor-Signature over the method, path, query and body
    TOKEN = "token"  # a TAILOR_API_TOKENS entry: Bearer, or the basic-auth user or password
    WRITE_KEY = "write-key"  # a TAILOR_WRITE_KEYS entry: basic-auth user or `writeKey` in the body
    PROVIDER = "provider"  # an ESP's own scheme, verified by the ESP webhook route itself
    SESSION = "session"  # the studio's login cookie (set after a token was given)
    LOOPBACK = "loopback"  # dev mode only: nothing configured and the peer is loopback


@dataclass(frozen=True)
class Access:
    """What one endpoint accepts."""

    accepts: frozenset[Kind]
    #: served to anyone; a credential, when given, only adds detail (``g.auth``)
    public: bool = False
    #: a studio page: a browser without credentials is sent to the login form
    login: bool = False


API = Access(frozenset({Kind.SIGNATURE, Kind.TOKEN}))
INGEST = Access(frozenset({Kind.WRITE_KEY}))
ESP = Access(frozenset({Kind.PROVIDER}))
STUDIO = Access(frozenset({Kind.TOKEN, Kind.SESSION}), login=True)
STUDIO_API = Access(frozenset({Kind.TOKEN, Kind.SESSION}))
#: public, with details for whoever proves who they are
STATUS = Access(frozenset({Kind.SIGNATURE, Kind.TOKEN, Kind.SESSION}), public=True)
PUBLIC = Access(frozenset(), public=True)

#: endpoint (or ``blueprint.`` prefix) -> access; anything not listed gets :data:`API`
POLICY: dict[str, Access] = {
    "render.": API,
    "ops.metrics": API,
    "ops.healthz": STATUS,
    "ops.openapi": PUBLIC,
    "profiles.": API,
    "ingest.": INGEST,
    "esp.": ESP,
    # the signed token in the path is the credential (RFC 8058: a POST without cookies)
    "unsubscribe.": PUBLIC,
    "preview.login": PUBLIC,
    "preview.logout": PUBLIC,
    "preview.static": PUBLIC,
    "preview.version": STUDIO_API,
    "preview.render_api": STUDIO_API,
    "preview.send_test_api": STUDIO_API,
    "preview.": STUDIO,
}

#: methods that change nothing (a cross-site page may make a browser send them: the answer is not its to read)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: the largest body any route reads (ingestion batches are checked again by their route)
MAX_POLICY_BODY = 1024 * 1024
#: how long a studio login lasts
SESSION_LIFETIME = timedelta(hours=12)
_SESSION_KEY = "studio"


def access_for(endpoint: str) -> Access:
    if endpoint in POLICY:
        return POLICY[endpoint]
    blueprint = endpoint.split(".", 1)[0] + "." if "." in endpoint else ""
    return POLICY.get(blueprint, API)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address) is a loopback address. Anything else, names included, is not."""
    try:
        address = ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def is_local_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback (``localhost``, ``127.x``, ``[::1]``).

    In development mode a loopback peer is trusted without credentials; a page on another
    site can make the developer's browser that peer (DNS rebinding: ``evil.example``
    resolving to 127.0.0.1), but cannot make it send a loopback ``Host``.
    """
    host = host.strip().lower()
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    return name == "localhost" or is_loopback(name)


def is_loopback_interface(host: str) -> bool:
    """Whether a *bind* address listens on loopback only ("" and 0.0.0.0 listen everywhere)."""
    return host == "localhost" or is_loopback(host)


def peer_address(req: Request, trusted: Iterable[IPv4Network | IPv6Network]) -> str:
    """The caller's address: the TCP peer, or what trusted proxies say the client was."""
    networks = list(trusted)
    peer = req.remote_addr or ""

    def is_trusted(host: str) -> bool:
        try:
            address = ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in net for net in networks)

    if not networks or not is_trusted(peer):
        return peer
    hops = [h.strip() for value in req.headers.getlist("X-Forwarded-For") for h in value.split(",") if h.strip()]
    # right to left: each trusted proxy vouches for the hop before it; the first untrusted one is the client
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
        peer = hop
    return peer


@dataclass
class Policy:
    """The credentials configured for one app and the hook that checks them."""

    settings: Settings
    #: ESP providers with their own credentials configured (``provider -> configured?``)
    provider_configured: Callable[[str], bool] = lambda provider: False
    networks: list[IPv4Network | IPv6Network] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.networks = [ip_network(n, strict=False) for n in self.settings.trusted_proxies]

    def enforce(self) -> Response | None:
        g.peer = peer_address(request, self.networks)
        # https as the client saw it: a trusted proxy terminates TLS and says so
        g.https = request.is_secure or (
            g.peer != request.remote_addr and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        )
        g.auth = None
        endpoint = request.endpoint
        if endpoint is None:  # no such route or method: the 404/405 problem follows
            return None
        access = access_for(endpoint)
        if Kind.PROVIDER in access.accepts and self.provider_configured(str((request.view_args or {}).get("provider"))):
            g.auth = Kind.PROVIDER  # the route verifies the provider's signature or password
            return None
        if not self.settings.has_credentials:
            if is_loopback(g.peer) and is_local_host(request.host):
                g.auth = Kind.LOOPBACK
                return self.refuse_cross_site(access)
            if access.public:
                return None
            if is_loopback(g.peer):
                return problem(
                    403,
                    "loopback-only",
                    detail="no credentials are configured: only requests addressed to localhost, 127.0.0.1 or "
                    "[::1] are served (the Host header names another site)",
                )
            return problem(
                403,
                "loopback-only",
                detail="no credentials are configured (TAILOR_SECRET, TAILOR_API_TOKENS, TAILOR_WRITE_KEYS): "
                "only loopback callers are served",
            )
        kind, reason = self.authenticate(access.accepts)
        g.auth = kind
        if kind is not None or access.public:
            return self.refuse_cross_site(access)
        if access.login and request.method == "GET":
            return redirect(url_for("preview.login", next=local_next(request.full_path)), 303)
        denied = problem(401, "unauthorized", detail=reason)
        denied.headers["WWW-Authenticate"] = (
            'Basic realm="tailor studio"' if Kind.SESSION in access.accepts else 'Bearer realm="tailor"'
        )
        return denied

    def refuse_cross_site(self, access: Access) -> Response | None:
        """A 403 for a change another site's page asked this browser to make with its credentials.

        A page on any site can make a browser POST a form here (no CORS preflight for a
        form), and the browser adds what it holds for this server by itself: its loopback
        position in dev mode, the studio's basic-auth login. (The session cookie is
        ``SameSite=Strict``, so it never goes along.) Such a request is refused before the
        route runs: a test send to the seed list, an ingested event, a profile erased.
        Public routes carry their own credential (the unsubscribe token in the path).
        """
        if request.method in SAFE_METHODS or access.public or not _ambient(g.auth, request):
            return None
        if not _cross_site(request):
            return None
        return problem(
            403,
            "cross-site-request",
            detail="refused: another site's page asked this browser to make this change "
            "(Sec-Fetch-Site or Origin names another site)",
        )

    def authenticate(self, accepts: frozenset[Kind]) -> tuple[Kind | None, str]:
        """The first kind in ``accepts`` the request proves, or None and why not."""
        s = self.settings
        reasons: list[str] = []
        if Kind.SESSION in accepts and self.session_valid():
            return Kind.SESSION, ""
        if Kind.TOKEN in accepts and s.api_tokens:
            given = _presented_tokens(request)
            if given and any(_known(token, s.api_tokens) for token in given):
                return Kind.TOKEN, ""
            if given and not (Kind.SIGNATURE in accepts and request.headers.get(SIGNATURE_HEADER)):
                return None, "unknown API token"
            reasons.append("an API token (Authorization: Bearer)")
        if Kind.SIGNATURE in accepts and s.secret:
            header = request.headers.get(SIGNATURE_HEADER)
            if header:
                try:
                    verify(request.get_data(cache=True), header, s.secret, method=request.method, path=signed_path())
                    return Kind.SIGNATURE, ""
                except SignatureError as exc:
                    return None, str(exc)
            reasons.append(f"an {SIGNATURE_HEADER} signature")
        if Kind.WRITE_KEY in accepts and s.write_keys:
            key = _write_key(request)
            if key is not None and _known(key, s.write_keys):
                return Kind.WRITE_KEY, ""
            return None, "unknown or missing write key (HTTP basic-auth user or `writeKey`)"
        if Kind.PROVIDER in accepts:
            provider = (request.view_args or {}).get("provider")
            return None, f"{provider} webhooks are not configured (see docs/esp.md)"
        if not reasons:
            return None, "this route's credentials are not configured on this server"
        return None, "send " + " or ".join(reasons)

    # -- the studio's login session --------------------------------------------

    def login(self, token: str) -> bool:
        """Start a studio session when ``token`` is an API token."""
        if not token or not _known(token, self.settings.api_tokens):
            return False
        session.clear()
        session.permanent = True
        session[_SESSION_KEY] = _fingerprint(token)
        return True

    def session_valid(self) -> bool:
        """A signed, unexpired studio cookie whose token is still configured (removing a token logs it out)."""
        mark = session.get(_SESSION_KEY)
        if not isinstance(mark, str):
            return False
        return any(hmac.compare_digest(mark, _fingerprint(t)) for t in self.settings.api_tokens)


class _StudioSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` set whenever the request came over https.

    Flask opens the session on every request, API calls included, and builds a new signing
    serializer each time; it depends only on the app's key, so it is built once per key.
    """

    def __init__(self) -> None:
        self._signing: tuple[object, URLSafeTimedSerializer | None] | None = None

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure or g.get("https"))

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._signing is None or self._signing[0] != key:
            self._signing = (key, super().get_signing_serializer(app))
        return self._signing[1]


def install(app: Flask, settings: Settings, *, provider_configured: Callable[[str], bool] | None = None) -> Policy:
    """Put the policy in front of every request of ``app`` (once; later calls only add ESP providers)."""
    policy: Policy | None = app.extensions.get("tailor.auth")
    if policy is None:
        policy = Policy(settings)
        app.extensions["tailor.auth"] = policy
        app.before_request(policy.enforce)
        # the studio cookie: signed with a key derived from the configured secrets (every worker
        # derives the same one), or a random key for this process when there is none
        material = "\x00".join((*settings.secret, *settings.api_tokens))
        app.secret_key = (
            hmac.new(material.encode(), b"tailor studio session", hashlib.sha256).digest()
            if material
            else secrets.token_bytes(32)
        )
        app.config.update(
            SESSION_COOKIE_NAME="tailor_studio",
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Strict",
            PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        )
        app.session_interface = _StudioSessions()
    if provider_configured is not None:
        policy.provider_configured = provider_configured
    return policy


def on_register(
    settings: Settings, *, provider_configured: Callable[[str], bool] | None = None
) -> Callable[[BlueprintSetupState], None]:
    """For ``Blueprint.record_once``: a blueprint registered on any app brings the policy with it."""

    def setup(state: BlueprintSetupState) -> None:
        if isinstance(state.app, Flask):
            install(state.app, settings, provider_configured=provider_configured)

    return setup


def policy_of(app: Flask) -> Policy:
    return app.extensions["tailor.auth"]


def signed_path() -> str:
    """The request target as the caller sent it (``path?query``), which the signature binds."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        return raw
    query = request.query_string.decode("latin-1")
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")
    return f"{path}?{query}" if query else path


def _ambient(kind: Kind | None, req: Request) -> bool:
    """Whether ``kind`` was proven by something the browser sends by itself: the peer's
    loopback position (dev mode), the session cookie, or cached HTTP basic credentials.
    A Bearer token, a signature or a write key in the body is added by the caller's code,
    which a cross-site page can do only after a CORS preflight this server never grants."""
    if kind in (Kind.LOOPBACK, Kind.SESSION):
        return True
    auth = req.authorization
    return kind is not None and auth is not None and auth.type == "basic"


def _cross_site(req: Request) -> bool:
    """Whether a browser made ``req`` for a page of another site.

    ``Sec-Fetch-Site`` says so in every current browser (``none``: the user typed the
    address or used a bookmark). An older browser's ``Origin`` is compared with the host
    the request was addressed to; servers, SDKs and ESPs send neither header.
    """
    site = req.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() not in ("same-origin", "none")
    origin = req.headers.get("Origin")
    if origin is None:
        return False
    return origin.strip().lower() == "null" or urlsplit(origin.strip()).netloc.lower() != req.host.lower()


def _presented_tokens(req: Request) -> list[str]:
    header = req.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return [header[7:].strip()]
    auth = req.authorization
    if auth is not None and auth.type == "basic":
        return [v for v in (auth.username, auth.password) if v]
    return []


def is_trusted_writer(settings: Settings) -> bool:
    """Whether this request was authenticated with a write key marked ``:trusted`` (a server-side source).

    Only such a key may merge two known profiles; the keyless loopback mode is not trusted.
    """
    if g.get("auth") != Kind.WRITE_KEY:
        return False
    key = _write_key(request)
    return key is not None and _known(key, settings.trusted_write_keys)


def _write_key(req: Request) -> str | None:
    auth = req.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username
    try:
        body = json_body(MAX_POLICY_BODY, gzip=True, require_json_type=False)
    except BadBody:
        return None
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def _known(given: str, configured: Iterable[str]) -> bool:
    """Constant-time membership: every configured value is compared, whichever matches."""
    matched = False
    for known in configured:
        matched |= hmac.compare_digest(given.encode("utf-8", "replace"), known.encode("utf-8"))
    return matched


def _fingerprint(token: str) -> str:
    return hashlib.sha256(b"tailor studio:" + token.encode("utf-8")).hexdigest()[:32]


def local_next(target: str) -> str:
    """Only a path on this server may be the place to return to after login (no open redirect).

    Browsers drop tabs and newlines from a ``Location`` and read ``\\`` as ``/``, so
    ``/\t/evil.example`` would leave the site: any control character, space or backslash
    sends the user to the studio's front page instead.
    """
    target = target.rstrip("?")
    odd = any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in target)
    parts = urlsplit(target)
    if odd or not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/preview/"
    return target
