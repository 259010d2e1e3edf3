"""Filters marketers expect: money, numbers and dates by the recipient's locale and time zone,
pluralization, and link tagging.

Filters never raise on bad data: a send must not fail because a price was missing.
They return the value unchanged (or an empty string) and record a fallback instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from tailor.rendering.fallbacks import record_fallback
from tailor.rendering.formatting import DEFAULT_LOCALE, DEFAULT_TIMEZONE, current_formatting
from tailor.vocabulary.times import NotATime, parse_iso

#: A number with more integer digits than this is no price or count: ``1e308`` would
#: print 309 digits (or make Babel raise), so it renders empty with a fallback instead.
MAX_NUMBER_DIGITS = 18
#: ``number(digits)`` shows at most this many decimals.
MAX_FRACTION_DIGITS = 12

CurrencyFormat = Literal["standard", "accounting", "name"]
#: Babel's currency formats by the name a template passes (any other name would raise)
_CURRENCY_FORMATS: dict[str, CurrencyFormat] = {"standard": "standard", "accounting": "accounting", "name": "name"}


# The formatting filters are marked @pass_context although they read the render's Formatting, not
# the Jinja context: Jinja folds a filter it takes for pure at compile time, so `{{ 9.5 | money }}`
# would be formatted once, in the defaults' locale, for every recipient.


def resolve_locale(value: Any) -> str:
    """A Babel locale identifier for ``value`` (``fr-FR``, ``fr_FR``, ``fr``), or the default."""
    if isinstance(value, str) and value:
        try:
            return str(Locale.parse(value.replace("-", "_")))
        except (ValueError, UnknownLocaleError):
            record_fallback("bad-locale", f"unknown locale {value!r}, used {DEFAULT_LOCALE}")
    return DEFAULT_LOCALE


def resolve_timezone(value: Any) -> ZoneInfo:
    """The recipient's time zone, or UTC when missing or unknown."""
    if isinstance(value, str) and value:
        try:
            return ZoneInfo(value)
        except (ValueError, KeyError, OSError):
            record_fallback("bad-timezone", f"unknown time zone {value!r}, used UTC")
    return ZoneInfo(DEFAULT_TIMEZONE)


def _decimal(value: Any, what: str) -> Decimal | None:
    """``value`` as a finite Decimal a filter can show, or None with a fallback recorded."""
    if isinstance(value, Undefined) or value is None or isinstance(value, bool):
        record_fallback("missing-number", f"{what} had no value", filter=what)
        return None
    try:
        # str() of an int over 4,300 digits raises ValueError: that is a bad number too
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        record_fallback("bad-number", f"{what} got a non-number; rendered empty", filter=what)
        return None
    if not amount.is_finite() or abs(amount.adjusted()) > MAX_NUMBER_DIGITS:
        if amount.is_finite() and amount.adjusted() < 0:
            return Decimal(0)  # 1e-400 is zero to any number of shown decimals
        record_fallback(
            "bad-number",
            f"{what} got a number it cannot show (infinite, NaN or over {MAX_NUMBER_DIGITS} digits); rendered empty",
            filter=what,
        )
        return None
    return amount


def _formatted(what: str, format_number: Any, *args: Any, **kwargs: Any) -> str:
    """Babel's formatting, but a number it cannot format renders empty instead of failing the email."""
    try:
        return str(format_number(*args, **kwargs))
    except (ArithmeticError, ValueError) as exc:
        record_fallback(
            "bad-number", f"{what} could not format a number ({type(exc).__name__}); rendered empty", filter=what
        )
        return ""


@pass_context
def money(_ctx: Context, value: Any, currency: str | None = None, format_type: str = "standard") -> str:
    """``{{ product.price | money }}`` → ``$49.00`` / ``49,00 €`` in the recipient's locale."""
    amount = _decimal(value, "money")
    if amount is None:
        return ""
    formatting = current_formatting()
    code, locale = str(currency or formatting.currency), formatting.locale
    if code != formatting.currency:
        # one currency per email: say so when a price names another (it is shown in its own, never relabelled)
        record_fallback("other-currency", f"a price in {code} in an email in {formatting.currency}", filter="money")
    style = _CURRENCY_FORMATS.get(str(format_type))  # templates may pass anything
    if style is None:
        record_fallback("bad-currency-format", f"unknown money format {format_type!r}")
        style = "standard"
    try:
        return _format_currency(amount, code, locale, style)
    except (ValueError, babel_numbers.UnknownCurrencyError):
        record_fallback("bad-currency", f"unknown currency {code!r}")
        return _formatted("money", babel_numbers.format_decimal, amount, locale=locale)
    except ArithmeticError as exc:
        record_fallback(
            "bad-number", f"money could not format a number ({type(exc).__name__}); rendered empty", filter="money"
        )
        return ""


@lru_cache(maxsize=65_536)
def _format_currency(amount: Decimal, code: str, locale: str, format_type: CurrencyFormat) -> str:
    # Babel takes ~60 µs per call; prices repeat across recipients, so remember them
    return babel_numbers.format_currency(amount, code, locale=locale, format_type=format_type)


@pass_context
def number(_ctx: Context, value: Any, digits: int | None = None) -> str:
    """``{{ 12345.6 | number }}`` → ``12,345.6`` (en) / ``12 345,6`` (fr)."""
    amount = _decimal(value, "number")
    if amount is None:
        return ""
    locale = current_formatting().locale
    if digits is not None:
        if not isinstance(digits, int) or not 0 <= digits <= MAX_FRACTION_DIGITS:
            record_fallback(
                "bad-argument", f"number(digits) takes 0 to {MAX_FRACTION_DIGITS}; used the default", filter="number"
            )
            return _formatted("number", babel_numbers.format_decimal, amount, locale=locale)
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return _formatted("number", babel_numbers.format_decimal, amount, format=pattern, locale=locale)
    return _formatted("number", babel_numbers.format_decimal, amount, locale=locale)


@pass_context
def percent(_ctx: Context, value: Any) -> str:
    """``{{ 0.15 | percent }}`` → ``15%``."""
    amount = _decimal(value, "percent")
    if amount is None:
        return ""
    return _formatted("percent", babel_numbers.format_percent, amount, locale=current_formatting().locale)


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str) and value:
        try:
            return parse_iso(value)
        except NotATime:
            pass
    record_fallback("bad-date", "a date filter got no usable date")
    return None


@pass_context
def format_date(_ctx: Context, value: Any, fmt: str = "medium") -> str:
    """``{{ now | date }}`` → the date in the recipient's time zone and locale."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = _localize(moment).date()
    return babel_dates.format_date(moment, format=fmt, locale=current_formatting().locale)


@pass_context
def format_datetime(_ctx: Context, value: Any, fmt: str = "medium") -> str:
    """``{{ order.created_at | datetime('short') }}`` in the recipient's time zone."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return babel_dates.format_datetime(
        _localize(moment), format=fmt, tzinfo=current_formatting().timezone, locale=current_formatting().locale
    )


def _localize(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(current_formatting().timezone)


def pluralize(count: Any, singular: str | None = None, plural: str | None = None) -> str:
    """``item{{ n | pluralize }}``, ``{{ n | pluralize('y,ies') }}``, ``{{ n | pluralize('item', 'items') }}``."""
    try:
        one = abs(float(count)) == 1
    except (TypeError, ValueError):
        one = False
    if singular is not None and plural is not None:
        return singular if one else plural
    if singular is not None and "," in singular:
        single_suffix, plural_suffix = singular.split(",", 1)
        return single_suffix if one else plural_suffix
    return "" if one else (singular if singular is not None else "s")


#: links that must reach their target untouched: list-management and legal pages
UNTAGGED_LINKS = ("unsubscribe", "/preferences", "optout", "opt-out")


def tag_url(url: str, params: Mapping[str, Any]) -> str:
    """Add UTM (or any) query parameters to an http(s) URL, keeping ones already set.

    Unsubscribe and preference-centre links (:data:`UNTAGGED_LINKS`) are left alone.
    """
    if not params or not url.startswith(("http://", "https://")):
        return url
    lowered = url.lower()
    if any(marker in lowered for marker in UNTAGGED_LINKS):
        return url
    suffix = _encoded(tuple(params.items()))
    if "#" not in url and not any(f"{key}=" in url for key, _ in params.items()):
        # the common case, without parsing: nothing to keep, nothing to move
        return f"{url}{'&' if '?' in url else '?'}{suffix}" if suffix else url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not params:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, str(value)) for key, value in params.items() if key not in present and value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pass_context
def utm(_ctx: Context, url: Any, **params: Any) -> str:
    """``{{ url | utm(utm_content='hero') }}``: the template's UTM parameters plus these."""
    merged = {**(current_formatting().utm or {}), **params}
    return tag_url(str(url), merged)


@pass_context
def tag_link(_ctx: Context, rendered: Any) -> Markup | str:
    """Applied by the compiler to every ``href`` that contains Jinja (filter block)."""
    params = current_formatting().utm or {}
    if not params:
        return rendered
    if isinstance(rendered, Markup):
        return escape(tag_url(rendered.unescape(), params))
    return tag_url(str(rendered), params)


@lru_cache(maxsize=1024)
def _encoded(params: tuple[tuple[str, Any], ...]) -> str:
    return urlencode([(key, str(value)) for key, value in params if value is not None])


FILTERS = {
    "money": money,
    "number": number,
    "percent": percent,
    "date": format_date,
    "datetime": format_datetime,
    "pluralize": pluralize,
    "utm": utm,
    "tag_link": tag_link,
}
