"""How one email formats: its locale, time zone, currency and link tags, as one typed value.

The filters (``money``, ``number``, ``date``, ``utm`` ...) used to read these from the
Jinja context under string keys. Jinja gives a macro imported the default way
(``{% import "partials/macros.html" as m %}``, without context) a context of its own, so
a macro formatted money in en_US whatever the recipient's locale. A render now sets one
:class:`Formatting` for its whole duration (a context variable, like the fallbacks it
records), so the page, its blocks and every macro they call format like the email.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

from tailor.vocabulary.products import DEFAULT_CURRENCY

DEFAULT_LOCALE = "en_US"
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Formatting:
    """The formatting settings of one email (the recipient's, resolved once per render)."""

    #: Babel locale identifier numbers, money and dates are written in (``fr_FR``)
    locale: str = DEFAULT_LOCALE
    timezone: tzinfo = ZoneInfo(DEFAULT_TIMEZONE)
    #: the email's one currency (send context, else the products', else the settings default)
    currency: str = DEFAULT_CURRENCY
    #: query parameters every link gets; None: the template's own (``CompiledTemplate.utm``)
    utm: Mapping[str, str] | None = None

    @property
    def lang(self) -> str:
        """The BCP 47 tag of ``<html lang>``: ``fr_FR`` -> ``fr-FR``."""
        return self.locale.replace("_", "-")

    @property
    def direction(self) -> str:
        """``<html dir>``: ``rtl`` for Arabic, Hebrew, Persian ... scripts, else ``ltr``."""
        return _direction(self.locale)


@lru_cache(maxsize=256)
def _direction(locale: str) -> str:
    try:
        return "rtl" if Locale.parse(locale).character_order == "right-to-left" else "ltr"
    except (ValueError, UnknownLocaleError):
        return "ltr"


_DEFAULTS = Formatting()  # frozen: one shared default is safe
_current: contextvars.ContextVar[Formatting] = contextvars.ContextVar("tailor_formatting", default=_DEFAULTS)

#: The formatting of the email being rendered (the defaults outside a render). The context
#: variable's own ``get``, not a function around it: the formatting filters call it on every
#: price, date and link of every email, and a Python frame per call cost more than the lookup.
current_formatting = _current.get


@contextmanager
def formatting_as(formatting: Formatting) -> Iterator[Formatting]:
    """Format everything rendered inside the block with ``formatting``."""
    token = _current.set(formatting)
    try:
        yield formatting
    finally:
        _current.reset(token)
