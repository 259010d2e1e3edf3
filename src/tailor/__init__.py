"""tailor — self-hosted send-time email personalization."""

from tailor.core import Tailor
from tailor.email import Email, RenderAborted, TailorError, TemplateBroken, TemplateNotFound

__all__ = ["Tailor", "Email", "TailorError", "TemplateNotFound", "TemplateBroken", "RenderAborted"]
__version__ = "0.1.0"
