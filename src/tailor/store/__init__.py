"""The profile and event store: SQLAlchemy models, migrations, ingestion, identity resolution.

``Store(database_url)`` is the entry point; see ``docs``/the module docstrings of
:mod:`tailor.store.resolve` (identity rules) and :mod:`tailor.store.messages`
(message validation and the consent convention).
"""

from .errors import ValidationError
from .ingest import IngestResult
from .messages import Record, validate_message
from .store import Store

__all__ = ["IngestResult", "Record", "Store", "ValidationError", "validate_message"]
