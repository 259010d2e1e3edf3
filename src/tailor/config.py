"""One settings object: defaults, then ``tailor.toml``, then ``TAILOR_*`` environment variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tailor.vocabulary.products import DEFAULT_CURRENCY

#: setting name -> environment variable
ENV_NAMES = {
    "database_url": "TAILOR_DATABASE_URL",
    "templates": "TAILOR_TEMPLATES",
    "rules": "TAILOR_RULES",
    "secret": "TAILOR_SECRET",
    "write_keys": "TAILOR_WRITE_KEYS",
    "api_tokens": "TAILOR_API_TOKENS",
    "trusted_proxies": "TAILOR_TRUSTED_PROXIES",
    "recs_url": "TAILOR_RECS_URL",
    "budget_ms": "TAILOR_BUDGET_MS",
    "render_timeout_ms": "TAILOR_RENDER_TIMEOUT_MS",
    "inliner": "TAILOR_INLINER",
    "artifacts": "TAILOR_ARTIFACTS",
    "outbound_max_bytes": "TAILOR_OUTBOUND_MAX_BYTES",
    "smtp_url": "TAILOR_SMTP_URL",
    "smtp_from": "TAILOR_SMTP_FROM",
    "test_recipients": "TAILOR_TEST_RECIPIENTS",
    "public_url": "TAILOR_PUBLIC_URL",
    "unsubscribe_mailto": "TAILOR_UNSUBSCRIBE_MAILTO",
    "currency": "TAILOR_CURRENCY",
    "retention_file": "TAILOR_RETENTION",
    "bind_host": "TAILOR_BIND_HOST",
    "warm": "TAILOR_WARM",
    "metrics_dir": "PROMETHEUS_MULTIPROC_DIR",
    "sendgrid_public_key": "TAILOR_SENDGRID_PUBLIC_KEY",
    "mailgun_signing_key": "TAILOR_MAILGUN_SIGNING_KEY",
    "postmark_user": "TAILOR_POSTMARK_USER",
    "postmark_password": "TAILOR_POSTMARK_PASSWORD",
    "redis_url": "TAILOR_REDIS_URL",
    "compiled_cache": "TAILOR_COMPILED_CACHE",
    "send_journal": "TAILOR_SEND_JOURNAL",
    "send_journal_fsync": "TAILOR_SEND_JOURNAL_FSYNC",
    "send_flush_ms": "TAILOR_SEND_FLUSH_MS",
}

_LIST_SETTINGS = {"secret", "write_keys", "api_tokens", "trusted_proxies", "test_recipients"}
_PATH_SETTINGS = {"templates", "rules", "artifacts", "retention_file", "metrics_dir", "compiled_cache", "send_journal"}
_OPTIONAL_PATHS = {"retention_file", "metrics_dir"}
#: suffix marking a write key as trusted (``TAILOR_WRITE_KEYS="browser-key,backend-key:trusted"``)
TRUSTED_SUFFIX = ":trusted"


#: the compiled-template cache of a configured tailor (``Settings.load``)
DEFAULT_COMPILED_CACHE = Path(".tailor/compiled")
#: the send-record journal of a configured tailor (``Settings.load``)
DEFAULT_SEND_JOURNAL = Path(".tailor/send-journal")


class ConfigError(ValueError):
    """A setting has a value tailor cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every knob tailor has, each with a default that works for the embedded mode."""

    database_url: str = "sqlite:///tailor.db"
    templates: Path = Path("templates")
    rules: Path = Path("rules")
    #: several secrets are accepted at once so they can be rotated
    secret: tuple[str, ...] = ()
    write_keys: tuple[str, ...] = ()
    #: the write keys (also in ``write_keys``) of server-side sources, allowed to merge two
    #: known profiles; set by suffixing a key with ``:trusted`` in ``TAILOR_WRITE_KEYS``
    trusted_write_keys: tuple[str, ...] = ()
    api_tokens: tuple[str, ...] = ()
    #: IPs or CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed (nobody's, by default)
    trusted_proxies: tuple[str, ...] = ()
    recs_url: str | None = None
    budget_ms: int = 250
    #: wall-clock limit of one render (conditions and content): past it the render is refused
    render_timeout_ms: int = 1000
    #: ``css-inline`` (default, fast, maintained) or ``premailer``
    inliner: str = "css-inline"
    #: where trained recommendation artifacts are written
    artifacts: Path = Path(".tailor/artifacts")
    #: the largest answer read from another service (recommendations, trigger notifications)
    outbound_max_bytes: int = 1024 * 1024
    #: SMTP relay for ``--deliver`` and studio test sends: ``smtp://[user:password@]host[:port][?starttls=true]``
    #: or ``smtps://…`` (TLS from the first byte); ``?rate=N`` messages per second (docs/delivery.md)
    smtp_url: str | None = None
    #: the sender, ``Shop <news@shop.example>``; its domain names every Message-ID
    smtp_from: str | None = None
    #: the seed list "send a test" delivers to
    test_recipients: tuple[str, ...] = ()
    #: where recipients reach this tailor (https): the one-click unsubscribe links point here
    public_url: str | None = None
    #: an optional ``mailto:`` address added to ``List-Unsubscribe``
    unsubscribe_mailto: str | None = None
    #: ISO 4217 code of an email whose send context and products name no currency
    currency: str = DEFAULT_CURRENCY
    #: the retention policy file (docs/privacy.md); None: ``./retention.yaml`` if present
    retention_file: Path | None = None
    #: the interface ``tailor serve`` listens on, for its gunicorn workers' own check
    bind_host: str | None = None
    #: compile templates and load models when a worker starts (``TAILOR_WARM=0``: on first use)
    warm: bool = True
    #: prometheus_client's multiprocess directory: set when several workers serve (``/metrics`` adds them up)
    metrics_dir: Path | None = None
    #: ESP webhook secrets (docs/esp.md); a provider without all of its own is disabled
    sendgrid_public_key: str | None = None
    mailgun_signing_key: str | None = None
    postmark_user: str | None = None
    postmark_password: str | None = None
    #: Redis shared by every worker and host (``redis://host:6379/0``): the send-id answer cache
    #: lives there, so a repeated send answers the same wherever it lands; None: per process
    redis_url: str | None = None
    #: where compiled templates are kept for the next process (``off``: in memory only). None
    #: here; ``Settings.load`` (the CLI, ``tailor serve``) makes it ``.tailor/compiled``
    compiled_cache: Path | None = None
    #: where each serving process journals its send records before a background thread
    #: inserts them in batches (``off``: in the render's own transaction). None here;
    #: ``Settings.load`` makes it ``.tailor/send-journal``. Local disk, per host
    send_journal: Path | None = None
    #: fsync every journaled send inside the render (survives a power cut, not only a kill)
    send_journal_fsync: bool = False
    #: how often the background thread inserts the journaled send records
    send_flush_ms: int = 200
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        toml_path: str | os.PathLike[str] | None = "tailor.toml",
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Read ``tailor.toml`` (if present) and then the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if toml_path is not None and Path(toml_path).is_file():
            try:
                with open(toml_path, "rb") as fh:
                    data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_path}: {exc}") from None
            table = data.get("tailor", data)
            known = {f.name for f in fields(cls)} - {"extra", "trusted_write_keys"}  # trust: ``key:trusted``
            for key, value in table.items():
                if key not in known:
                    raise ConfigError(f"{toml_path}: unknown setting {key!r}")
                values[key] = value
        for name, env in ENV_NAMES.items():
            if env in environ and environ[env] != "":
                values[name] = environ[env]
        values.setdefault("compiled_cache", DEFAULT_COMPILED_CACHE)
        values.setdefault("send_journal", DEFAULT_SEND_JOURNAL)
        return cls().with_values(**values)

    def with_values(self, **values: Any) -> Settings:
        """A copy with ``values`` applied and coerced to each setting's type."""
        coerced: dict[str, Any] = {}
        for key, value in values.items():
            if key in _LIST_SETTINGS:
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                coerced[key] = tuple(value or ())
                if key == "trusted_proxies":
                    _check_networks(coerced[key])
                if key == "write_keys":
                    coerced["write_keys"], coerced["trusted_write_keys"] = _split_trusted(coerced[key])
            elif key in _PATH_SETTINGS:
                coerced[key] = _path_setting(key, value)
            elif key in _COERCE:
                coerced[key] = _COERCE[key](key, value)
            else:
                coerced[key] = value
        return replace(self, **coerced)

    @property
    def has_credentials(self) -> bool:
        """Whether any credential is configured: then every route needs one (loopback grants nothing)."""
        return bool(self.secret or self.api_tokens or self.write_keys)


def _positive_int(key: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key} must be positive")
    return number


def _currency(key: str, value: Any) -> str:
    if not (isinstance(value, str) and len(value.strip()) == 3 and value.strip().isalpha()):
        raise ConfigError(f"{key} must be an ISO 4217 code such as EUR, got {value!r}")
    return value.strip().upper()


def _inliner(key: str, value: Any) -> str:
    if value not in ("css-inline", "premailer"):
        raise ConfigError(f"{key} must be 'css-inline' or 'premailer', got {value!r}")
    return str(value)


def _checked_url(key: str, value: Any) -> str | None:
    """``smtp_url``/``public_url`` parsed once here, so a typo fails at start-up, not mid-campaign."""
    if value in (None, ""):
        return None
    if key == "smtp_url":
        from tailor.delivery.smtp import SmtpConfig

        try:
            SmtpConfig.from_url(str(value))
        except ValueError as exc:
            raise ConfigError(f"smtp_url: {exc}") from None
    else:
        from tailor.delivery.unsubscribe import check_public_url

        try:
            check_public_url(str(value))
        except ValueError as exc:
            raise ConfigError(f"public_url: {exc}") from None
    return str(value)


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("1", "0", "true", "false", "yes", "no"):
        raise ConfigError(f"{key} must be true or false (1 or 0), got {value!r}")
    return text in ("1", "true", "yes")


def _path_setting(key: str, value: Any) -> Path | None:
    if key in ("compiled_cache", "send_journal") and (value is None or str(value).lower() in ("", "off", "none")):
        return None  # compiled templates kept in memory only; send records written in the render
    if value is None and key in _OPTIONAL_PATHS:
        return None
    return Path(value)


def _check_networks(values: tuple[str, ...]) -> None:
    from ipaddress import ip_network

    for value in values:
        try:
            ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {value!r} is not an IP address or CIDR network") from None


def _split_trusted(entries: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``("k1", "k2:trusted")`` → (all keys without the suffix, the trusted ones).

    The marker lives next to the key it qualifies, so rotating a key cannot leave a
    stale trust entry behind; ``write_keys`` stays a plain list of keys for whoever
    authenticates with it.
    """
    keys: list[str] = []
    trusted: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ConfigError(f"write_keys must be strings, got {entry!r}")
        key = entry[: -len(TRUSTED_SUFFIX)].strip() if entry.endswith(TRUSTED_SUFFIX) else entry
        if not key:
            raise ConfigError(f"write_keys: {entry!r} has no key before {TRUSTED_SUFFIX!r}")
        keys.append(key)
        if key != entry:
            trusted.append(key)
    return tuple(keys), tuple(trusted)


#: how each scalar setting is read from a string (the environment, tailor.toml) and checked
_COERCE: dict[str, Any] = {
    "warm": _flag,
    "send_journal_fsync": _flag,
    "send_flush_ms": _positive_int,
    "budget_ms": _positive_int,
    "render_timeout_ms": _positive_int,
    "outbound_max_bytes": _positive_int,
    "smtp_url": _checked_url,
    "public_url": _checked_url,
    "currency": _currency,
    "inliner": _inliner,
}
