"""Privacy by design: consent choices, data-subject access and erasure, retention, PII-safe logs.

Store access lives in :mod:`tailor.store.privacy`; this package is the logic around it
that the HTTP API (:mod:`tailor.web.profiles`) and the CLI (``tailor profiles``,
``tailor maintenance``) share. See ``docs/privacy.md``.
"""

from .redact import install_log_redaction, redact
from .retention import RetentionPolicy, load_policy, purge
from .retrain import clear_retrain_flag, flag_retrain, retrain_needed
from .service import PURPOSES, UnknownPurpose, counters, erase_profile, export_profile, set_consents

__all__ = [
    "PURPOSES",
    "RetentionPolicy",
    "UnknownPurpose",
    "clear_retrain_flag",
    "counters",
    "erase_profile",
    "export_profile",
    "flag_retrain",
    "install_log_redaction",
    "load_policy",
    "purge",
    "redact",
    "retrain_needed",
    "set_consents",
]
