"""The HTTP service: ``create_app(settings)``."""

from tailor.web.app import create_app

__all__ = ["create_app"]
