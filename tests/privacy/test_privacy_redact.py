"""The log filter that keeps query strings and addresses out of access logs."""

from __future__ import annotations

import logging

from tailor.privacy import install_log_redaction, redact


def test_redact_masks_emails_and_query_strings() -> None:
    line = '"GET /v1/content/welcome/hero?recipient=ann%40example.com&send_id=1 HTTP/1.1" 200'
    assert redact(line) == '"GET /v1/content/welcome/hero?<redacted> HTTP/1.1" 200'
    assert redact("GET /v1/profiles/Ann.Lee+x@mail.example.co.uk/export") == "GET /v1/profiles/<email>/export"
    assert redact("GET /v1/profiles/u-123/export") == "GET /v1/profiles/u-123/export"


def test_installed_filter_rewrites_werkzeug_records(caplog) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    assert len([f for f in logging.getLogger("werkzeug").filters if type(f).__name__ == "RedactingFilter"]) == 1
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - "%s" %s', "127.0.0.1", "GET /x?email=bo@example.com HTTP/1.1", "200")
    assert "bo@example.com" not in caplog.text and "GET /x?<redacted>" in caplog.text
