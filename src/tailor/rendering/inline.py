"""CSS inlining of compiled HTML, with network access off."""

from __future__ import annotations

import css_inline

INLINERS = ("css-inline", "premailer")

_CSS_INLINER = css_inline.CSSInliner(
    keep_style_tags=False,
    # MJML's responsive layout lives in @media rules: they must survive inlining.
    keep_at_rules=True,
    # A render never touches the network (the Google Fonts <link> stays for clients).
    load_remote_stylesheets=False,
)


def inline_css(html: str, inliner: str = "css-inline") -> str:
    """Inline ``<style>`` rules into ``style`` attributes, keeping ``@media`` rules."""
    if inliner == "css-inline":
        return _CSS_INLINER.inline(html)
    if inliner == "premailer":
        from premailer import Premailer  # optional path: slow and unmaintained, kept by request

        return Premailer(
            html,
            keep_style_tags=True,
            allow_network=False,
            disable_validation=True,
            remove_classes=False,
            strip_important=False,
            cssutils_logging_level="CRITICAL",
        ).transform()
    raise ValueError(f"unknown inliner {inliner!r}; choose one of {', '.join(INLINERS)}")
